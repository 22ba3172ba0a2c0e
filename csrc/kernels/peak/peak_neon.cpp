#include <arm_neon.h>

#include "kernels/peak/peak.h"

namespace attocore {

double fma_peak_neon(long iterations) {
  float32x4_t acc[10];
  for (auto& a : acc) a = vdupq_n_f32(1.f);
  const float32x4_t m = vdupq_n_f32(0.999999f), c = vdupq_n_f32(1e-7f);
  for (long i = 0; i < iterations; ++i)
    for (auto& a : acc) a = vfmaq_f32(c, a, m);
  float32x4_t s = acc[0];
  for (int j = 1; j < 10; ++j) s = vaddq_f32(s, acc[j]);
  volatile float sink = vgetq_lane_f32(s, 0);
  (void)sink;
  return double(iterations) * 10 * 4;
}

}  // namespace attocore
