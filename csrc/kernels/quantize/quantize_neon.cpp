// NEON quantize. AArch64: 8 a step, divided (vdivq_f32), clamped by compare-and-select (vmax
// would turn a NaN into NaN; the select keeps the ternaries' bound), rounded half to even by
// fcvtns, narrowed (already in range). ARMv7 has no vector division, and a multiply by the
// reciprocal would differ in the last bit: the reference's loop.
#include "kernels/quantize/quantize.h"

#if defined(__aarch64__)
#include <arm_neon.h>

#include "kernels/simd/staged_tail.h"
#endif

namespace attocore {

#if defined(__aarch64__)
namespace {

struct Lanes {
  float32x4_t scale, lo, hi;
  int32x4_t zp;
};

inline int32x4_t codes4(const float* x, const Lanes& l) {
  float32x4_t v = vdivq_f32(vld1q_f32(x), l.scale);
  v = vbslq_f32(vcgtq_f32(v, l.lo), v, l.lo);
  v = vbslq_f32(vcltq_f32(v, l.hi), v, l.hi);
  return vaddq_s32(vcvtnq_s32_f32(v), l.zp);
}

inline void quantize8(const float* x, int8_t* y, const Lanes& l) {
  vst1_s8(y, vqmovn_s16(vcombine_s16(vqmovn_s32(codes4(x, l)), vqmovn_s32(codes4(x + 4, l)))));
}

}  // namespace

void quantize_neon(const float* x, int8_t* y, size_t n, float scale, int32_t zero_point) {
  const Lanes l{vdupq_n_f32(scale), vdupq_n_f32(float(-128 - zero_point)), vdupq_n_f32(float(127 - zero_point)),
                vdupq_n_s32(zero_point)};
  for_steps_with_staged_tail<8>(x, y, n, [&](const float* xs, int8_t* ys) { quantize8(xs, ys, l); });
}
#else
void quantize_neon(const float* x, int8_t* y, size_t n, float scale, int32_t zero_point) {
  quantize_ref(x, y, n, scale, zero_point);
}
#endif

}  // namespace attocore
