// AVX2 quantize: four vectors of 8 a step, divided (vdivps), clamped by vmaxps / vminps with
// the value first (for a NaN they return the second operand, the bound: the ternaries'
// result), rounded half to even by vcvtps2dq (the default rounding mode), then packed to
// 32 bytes with saturation (the values are already in range) and put back in order.
#include <immintrin.h>

#include "kernels/quantize/quantize.h"
#include "kernels/simd/staged_tail.h"

namespace attocore {
namespace {

struct Lanes {
  __m256 scale, lo, hi;
  __m256i zp;
};

inline __m256i codes8(const float* x, const Lanes& l) {
  __m256 v = _mm256_div_ps(_mm256_loadu_ps(x), l.scale);
  v = _mm256_min_ps(_mm256_max_ps(v, l.lo), l.hi);
  return _mm256_add_epi32(_mm256_cvtps_epi32(v), l.zp);
}

inline void quantize32(const float* x, int8_t* y, const Lanes& l) {
  const __m256i a = codes8(x, l), b = codes8(x + 8, l), c = codes8(x + 16, l), d = codes8(x + 24, l);
  // packs work per 128-bit lane: ab = a0 b0 a1 b1, cd = c0 d0 c1 d1 (four int32 each), and
  // the bytes come out as a0 b0 c0 d0 a1 b1 c1 d1: the permute restores a b c d.
  const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
  const __m256i ordered = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(y), ordered);
}

}  // namespace

void quantize_avx2(const float* x, int8_t* y, size_t n, float scale, int32_t zero_point) {
  const Lanes l{_mm256_set1_ps(scale), _mm256_set1_ps(float(-128 - zero_point)), _mm256_set1_ps(float(127 - zero_point)),
                _mm256_set1_epi32(zero_point)};
  for_steps_with_staged_tail<32>(x, y, n, [&](const float* xs, int8_t* ys) { quantize32(xs, ys, l); });
}

}  // namespace attocore
