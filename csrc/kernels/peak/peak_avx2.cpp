#include <immintrin.h>

#include "kernels/peak/peak.h"

namespace attocore {

double fma_peak_avx2(long iterations) {
  // 10 independent chains hide the FMA latency (4 cycles x 2 ports on current x86 cores).
  __m256 acc[10];
  for (auto& a : acc) a = _mm256_set1_ps(1.f);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iterations; ++i)
    for (auto& a : acc) a = _mm256_fmadd_ps(a, m, c);
  __m256 s = acc[0];
  for (int j = 1; j < 10; ++j) s = _mm256_add_ps(s, acc[j]);
  volatile float sink = _mm256_cvtss_f32(s);
  (void)sink;
  return double(iterations) * 10 * 8;
}

}  // namespace attocore
