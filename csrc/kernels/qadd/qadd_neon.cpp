#include <arm_neon.h>

#include <cstring>

#include "kernels/qadd/qadd.h"

namespace attocore {
namespace {

struct Lanes {
  int32x4_t za, zb, zy, magic_bits;
  float32x4_t ma, mb, lo, hi, magic;
};

// Four lanes of the definition; round half to even by the 1.5 * 2^23 addition (ARMv7 has no
// rounding conversion), each product and the sum rounded on their own (vmulq, vaddq: no vmla).
inline int32x4_t add4(int16x4_t a, int16x4_t b, const Lanes& l) {
  const float32x4_t fa = vcvtq_f32_s32(vsubq_s32(vmovl_s16(a), l.za));
  const float32x4_t fb = vcvtq_f32_s32(vsubq_s32(vmovl_s16(b), l.zb));
  float32x4_t v = vaddq_f32(vmulq_f32(fa, l.ma), vmulq_f32(fb, l.mb));
  v = vminq_f32(vmaxq_f32(v, l.lo), l.hi);
  return vaddq_s32(vsubq_s32(vreinterpretq_s32_f32(vaddq_f32(v, l.magic)), l.magic_bits), l.zy);
}

inline void add8(const int8_t* a, const int8_t* b, int8_t* y, const Lanes& l) {
  const int16x8_t wa = vmovl_s8(vld1_s8(a)), wb = vmovl_s8(vld1_s8(b));
  const int32x4_t lo = add4(vget_low_s16(wa), vget_low_s16(wb), l);
  const int32x4_t hi = add4(vget_high_s16(wa), vget_high_s16(wb), l);
  vst1_s8(y, vmovn_s16(vcombine_s16(vmovn_s32(lo), vmovn_s32(hi))));
}

}  // namespace

void qadd_neon(const int8_t* a, const int8_t* b, int8_t* y, size_t n, const QAddParams& p) {
  const Lanes l{vdupq_n_s32(p.za), vdupq_n_s32(p.zb), vdupq_n_s32(p.ep.zero_point), vdupq_n_s32(0x4B400000),
                vdupq_n_f32(p.ma), vdupq_n_f32(p.mb), vdupq_n_f32(float(p.ep.lo - p.ep.zero_point)),
                vdupq_n_f32(float(p.ep.hi - p.ep.zero_point)), vdupq_n_f32(12582912.0f)};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) add8(a + i, b + i, y + i, l);
  if (i < n) {
    int8_t ta[8] = {}, tb[8] = {}, ty[8];
    std::memcpy(ta, a + i, n - i);
    std::memcpy(tb, b + i, n - i);
    add8(ta, tb, ty, l);
    std::memcpy(y + i, ty, n - i);
  }
}

}  // namespace attocore
