#include <immintrin.h>

#include "kernels/peak/peak.h"

namespace attocore {

double fma_peak_avx512(long iterations) {
  // 10 independent chains hide the FMA latency (4 cycles x 2 ports on cores with two 512-bit
  // FMA units; one-unit cores simply measure half).
  __m512 acc[10];
  for (auto& a : acc) a = _mm512_set1_ps(1.f);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < iterations; ++i)
    for (auto& a : acc) a = _mm512_fmadd_ps(a, m, c);
  __m512 s = acc[0];
  for (int j = 1; j < 10; ++j) s = _mm512_add_ps(s, acc[j]);
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return double(iterations) * 10 * 16;
}

}  // namespace attocore
