// float32 -> int8, ONNX's QuantizeLinear with attocore's rounding:
//   q = round_half_even(clamp(x / scale, -128 - zp, 127 - zp)) + zp
// A division, as ONNX defines it (a multiply by 1 / scale differs in the last bit now and
// then); the clamp as the scalar ternaries `v > lo ? v : lo`, `v < hi ? v : hi`, so a NaN
// (an overflow inside a float op) takes the lower bound, -128, in every variant and in
// attocore/quantize/evaluate.py. Every variant gives the reference's bytes
// (tests/cpp/test_quantize_kernels.cpp).
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/qgemm/qgemm.h"  // CpuNeed

namespace attocore {

using QuantizeFunction = void(const float* x, int8_t* y, size_t n, float scale, int32_t zero_point);

using QuantizeKernel = QKernelOf<QuantizeFunction>;

#define QUANTIZE_KERNEL(table, fn, need) QuantizeFunction fn;
#include "kernels/quantize/quantize_kernels.inc"
#undef QUANTIZE_KERNEL

}  // namespace attocore
