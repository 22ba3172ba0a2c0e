// requantize() (quant/requantize.h) on four int32 sums at a time, for the NEON int8 kernels
// (AArch64 and ARMv7), bit for bit: int32 -> fp32 (scvtf / vcvt.f32.s32 round to nearest
// even, as float(acc) does), one fp32 multiply (these files build with -ffp-contract=off:
// never an FMA), the clamp in float to [lo - zp, hi - zp] (vmax / vmin pick as the scalar
// ternaries do for non-NaN values), round half to even, + zp, narrowed with saturation
// (the values are already inside [lo, hi], so vqmovn never saturates).
// ARMv7 NEON flushes denormals to zero: harmless here, as a nonzero integer times a normal
// multiplier is normal, and a value that small would round to 0 anyway.
#pragma once
#include <arm_neon.h>

#include "kernels/quant/requantize.h"

namespace attocore {
namespace {

struct NeonRequant {
  float32x4_t lo, hi;  // the clamp bounds, lo - zp and hi - zp
  int32x4_t zp;
  explicit NeonRequant(const QuantEpilogue& ep)
      : lo(vdupq_n_f32(float(ep.lo - ep.zero_point))),
        hi(vdupq_n_f32(float(ep.hi - ep.zero_point))),
        zp(vdupq_n_s32(ep.zero_point)) {}

  int32x4_t operator()(int32x4_t acc, float32x4_t multiplier) const {
    float32x4_t y = vmulq_f32(vcvtq_f32_s32(acc), multiplier);
    y = vminq_f32(vmaxq_f32(y, lo), hi);
#if defined(__aarch64__)
    const int32x4_t q = vcvtnq_s32_f32(y);  // fcvtns: to nearest, ties to even
#else
    // ARMv7 has no vcvtn: round_half_even()'s magic number (|y| <= 255 < 2^22), exact in
    // NEON's fixed round-to-nearest-even mode.
    const float32x4_t shifted = vaddq_f32(y, vdupq_n_f32(12582912.0f));
    const int32x4_t q = vsubq_s32(vreinterpretq_s32_f32(shifted), vdupq_n_s32(0x4B400000));
#endif
    return vaddq_s32(q, zp);
  }
};

// Eight requantized values (two vectors of four) as int8.
inline int8x8_t narrow_s32_s8(int32x4_t a, int32x4_t b) {
  return vqmovn_s16(vcombine_s16(vqmovn_s32(a), vqmovn_s32(b)));
}

// The first `count` (< 8) lanes of v to dst: NEON has no masked store. Not inlined: inlined
// into the ARMv7 GEMM, its byte loop kept GCC 12 from holding the accumulators in registers
// (it stored all of them to the stack on every k step).
inline __attribute__((noinline)) void store_s8_partial(int8_t* dst, int8x8_t v, int count) {
  int8_t lanes[8];
  vst1_s8(lanes, v);
  for (int i = 0; i < count; ++i) dst[i] = lanes[i];
}

}  // namespace
}  // namespace attocore
