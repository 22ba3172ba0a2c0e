// The int8 residual add: y = requantized (a - za) * ma + (b - zb) * mb, where ma and mb are
// each input's scale over the output's, in fp32: both products, then their sum, then the
// clamp to the epilogue's range and round half to even (quant/requantize.h), in that order
// on every instruction set (these sources build with -ffp-contract=off). y may be a.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/qgemm/qgemm.h"  // CpuNeed, QuantEpilogue

namespace attocore {

struct QAddParams {
  float ma = 1, mb = 1;
  int32_t za = 0, zb = 0;
  QuantEpilogue ep;
};

using QAddFunction = void(const int8_t* a, const int8_t* b, int8_t* y, size_t n, const QAddParams& p);

using QAddKernel = QKernelOf<QAddFunction>;

#define QADD_KERNEL(table, fn, need) QAddFunction fn;
#include "kernels/qadd/qadd_kernels.inc"
#undef QADD_KERNEL

}  // namespace attocore
