// An activation op's kernel: y[i] = act(x[i]) over n floats (y may alias x). The reference is
// the definition (kernels/eltwise/activation.h, std::exp); the vector variants compile the
// loops of activation_loops.h under their instruction set's flags.
#pragma once
#include <cstddef>

#include "graph/graph.h"  // Activation

namespace attocore {

using ActivationFunction = void(Activation act, const float* x, float* y, size_t n);
using ActivationFn = ActivationFunction*;

struct ActivationKernel {
  ActivationFn fn = nullptr;
  const char* name = "";
};

// Every variant, from their list (activation_kernels.inc).
#define ACTIVATION_KERNEL(table, fn) ActivationFunction fn;
#include "kernels/activation/activation_kernels.inc"
#undef ACTIVATION_KERNEL

}  // namespace attocore
