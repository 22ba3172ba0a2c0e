// AVX-512 quantize: 16 a step, divided (vdivps), clamped by vmaxps / vminps with the value
// first (a NaN gives the bound, as the ternaries do), rounded half to even by vcvtps2dq,
// narrowed by vpmovsdb (the values are already in range); the tail masked.
#include <immintrin.h>

#include "kernels/quantize/quantize.h"

namespace attocore {

void quantize_avx512(const float* x, int8_t* y, size_t n, float scale, int32_t zero_point) {
  const __m512 s = _mm512_set1_ps(scale), lo = _mm512_set1_ps(float(-128 - zero_point)),
               hi = _mm512_set1_ps(float(127 - zero_point));
  const __m512i zp = _mm512_set1_epi32(zero_point);
  auto codes = [&](__m512 v) {
    v = _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(v, s), lo), hi);
    return _mm512_add_epi32(_mm512_cvtps_epi32(v), zp);
  };
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), _mm512_cvtsepi32_epi8(codes(_mm512_loadu_ps(x + i))));
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    _mm512_mask_cvtsepi32_storeu_epi8(y + i, m, codes(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

}  // namespace attocore
