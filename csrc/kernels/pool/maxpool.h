// Max pooling, NHWC, any window, stride and padding below the window (graph validation:
// so no window is empty); padded positions never win (as in PyTorch and ONNX). rows index batch * out_h. Vector variants take 8 (AVX2) or 4 (NEON)
// channels of a pixel per vector, a masked or partial vector for the rest.
#pragma once
#include "graph/graph.h"

namespace attocore {

using MaxPoolFn = void (*)(int in_h, int in_w, int channels, int out_h, int out_w, const WindowAttrs& w,
                           const float* input, Activation act, float* output, int row_begin, int row_end);

struct MaxPoolKernel {
  MaxPoolFn fn = nullptr;
  const char* name = "";
};

}  // namespace attocore
