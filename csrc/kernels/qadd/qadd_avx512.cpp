#include <immintrin.h>

#include <cstring>

#include "kernels/qadd/qadd.h"

namespace attocore {
namespace {

struct Lanes {
  __m512i za, zb, zy, magic_bits;
  __m512 ma, mb, lo, hi, magic;
};

// 16 outputs: the definition lane by lane; round half to even by the 1.5 * 2^23 addition.
inline void add16(const int8_t* a, const int8_t* b, int8_t* y, const Lanes& l) {
  const __m512i ia = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a))), l.za);
  const __m512i ib = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b))), l.zb);
  __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(ia), l.ma), _mm512_mul_ps(_mm512_cvtepi32_ps(ib), l.mb));
  v = _mm512_min_ps(_mm512_max_ps(v, l.lo), l.hi);
  const __m512i q = _mm512_add_epi32(_mm512_sub_epi32(_mm512_castps_si512(_mm512_add_ps(v, l.magic)), l.magic_bits), l.zy);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(y), _mm512_cvtepi32_epi8(q));
}

}  // namespace

void qadd_avx512(const int8_t* a, const int8_t* b, int8_t* y, size_t n, const QAddParams& p) {
  // max(v, lo) then min(v, hi), as the reference's compares (no NaN can occur: finite inputs).
  const Lanes l{_mm512_set1_epi32(p.za), _mm512_set1_epi32(p.zb), _mm512_set1_epi32(p.ep.zero_point),
                _mm512_set1_epi32(0x4B400000), _mm512_set1_ps(p.ma), _mm512_set1_ps(p.mb),
                _mm512_set1_ps(float(p.ep.lo - p.ep.zero_point)), _mm512_set1_ps(float(p.ep.hi - p.ep.zero_point)),
                _mm512_set1_ps(12582912.0f)};
  size_t i = 0;
  for (; i + 16 <= n; i += 16) add16(a + i, b + i, y + i, l);
  if (i < n) {
    int8_t ta[16] = {}, tb[16] = {}, ty[16];
    std::memcpy(ta, a + i, n - i);
    std::memcpy(tb, b + i, n - i);
    add16(ta, tb, ty, l);
    std::memcpy(y + i, ty, n - i);
  }
}

}  // namespace attocore
