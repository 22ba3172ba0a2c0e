// 4-lane float vectors on NEON (aarch64, and ARMv7 with neon-vfpv4 for vfmaq_f32), in
// simd/vec_avx2.h's vocabulary. NEON has no masked loads and stores: a partial vector goes
// through a copy of its n lanes.
#pragma once
#include <arm_neon.h>

// On a NEON kernel function: no GCC instruction scheduling before register allocation. Built
// for the A72/A76, that pass moved loads early and the allocator then spilled or copied
// accumulators (register moves share the FMA pipes); without it the code keeps the order
// the source gives, whatever -mcpu says. Where it is used and what it changed:
// docs/DECISIONS.md, "NEON kernels". Clang ignores GCC's optimize attribute: nothing there.
#if defined(__GNUC__) && !defined(__clang__)
#define ATTOCORE_NO_PRESCHEDULE __attribute__((optimize("no-schedule-insns")))
#else
#define ATTOCORE_NO_PRESCHEDULE
#endif

namespace attocore {
namespace {

struct VecNeon {
  using V = float32x4_t;
  using Mask = int;  // the lane count of a partial vector
  static constexpr int kLanes = 4;
#if defined(__aarch64__)
  static constexpr bool kFmaByLane = true;  // fma_lane below: acc + b * x[lane]
#else
  static constexpr bool kFmaByLane = false;
#endif

  static V load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, V v) { vst1q_f32(p, v); }
  static V broadcast(const float* p) { return vdupq_n_f32(*p); }
  static V set1(float x) { return vdupq_n_f32(x); }
  static V zero() { return vdupq_n_f32(0.f); }
  static V fma(V acc, V a, V b) { return vfmaq_f32(acc, a, b); }
  static V add(V a, V b) { return vaddq_f32(a, b); }
  static V max(V a, V b) { return vmaxq_f32(a, b); }
  static V min(V a, V b) { return vminq_f32(a, b); }
  // For the activation kernels' exp (activation/activation_loops.h).
  static V mul(V a, V b) { return vmulq_f32(a, b); }
  static V sub(V a, V b) { return vsubq_f32(a, b); }
#if defined(__aarch64__)
  static V div(V a, V b) { return vdivq_f32(a, b); }
  static V floor(V v) { return vrndmq_f32(v); }
#else
  // ARMv7 NEON has neither: a reciprocal estimate refined by two Newton steps (about 1 ulp),
  // and truncation corrected where it rounded up.
  static V div(V a, V b) {
    float32x4_t r = vrecpeq_f32(b);
    r = vmulq_f32(vrecpsq_f32(b, r), r);
    r = vmulq_f32(vrecpsq_f32(b, r), r);
    return vmulq_f32(a, r);
  }
  static V floor(V v) {
    const float32x4_t t = vcvtq_f32_s32(vcvtq_s32_f32(v));
    return vbslq_f32(vcgtq_f32(t, v), vsubq_f32(t, vdupq_n_f32(1.f)), t);
  }
#endif
  static V pow2(V n) {  // 2^n for integral n in [-126, 127]: n + 127 in the exponent bits
    return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23));
  }

  static Mask first(int n) { return n; }
  // Lanes [0, n) of a partial vector (n < 4), one lane at a time: a copy through a stack array
  // made GCC keep four of the 4x16 kernel's accumulators on the stack through its k loop.
  static V load_first(const float* p, Mask n) {
    V v = vdupq_n_f32(0.f);
    if (n > 0) v = vld1q_lane_f32(p, v, 0);
    if (n > 1) v = vld1q_lane_f32(p + 1, v, 1);
    if (n > 2) v = vld1q_lane_f32(p + 2, v, 2);
    return v;
  }
  static void store_first(float* p, Mask n, V v) {
    if (n > 0) vst1q_lane_f32(p, v, 0);
    if (n > 1) vst1q_lane_f32(p + 1, v, 1);
    if (n > 2) vst1q_lane_f32(p + 2, v, 2);
  }

#if defined(__aarch64__)
  // acc + b * x[lane]: the lane must be a constant, so the index is dispatched here (each case
  // folds away once the caller's lane loop is unrolled).
  static V fma_lane(V acc, V b, V x, int lane) {
    switch (lane) {
      case 0: return vfmaq_laneq_f32(acc, b, x, 0);
      case 1: return vfmaq_laneq_f32(acc, b, x, 1);
      case 2: return vfmaq_laneq_f32(acc, b, x, 2);
      default: return vfmaq_laneq_f32(acc, b, x, 3);
    }
  }
#endif
};

}  // namespace
}  // namespace attocore
