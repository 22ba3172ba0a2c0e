#include <immintrin.h>

#include <cstring>

#include "kernels/qadd/qadd.h"

namespace attocore {
namespace {

struct Lanes {
  __m256i za, zb, zy, magic_bits, pack_order;
  __m256 ma, mb, lo, hi, magic;
};

// 8 outputs: the definition lane by lane; round half to even by the 1.5 * 2^23 addition.
inline void add8(const int8_t* a, const int8_t* b, int8_t* y, const Lanes& l) {
  long long la, lb;
  std::memcpy(&la, a, 8);
  std::memcpy(&lb, b, 8);
  const __m256i ia = _mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(la)), l.za);
  const __m256i ib = _mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(lb)), l.zb);
  __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(ia), l.ma), _mm256_mul_ps(_mm256_cvtepi32_ps(ib), l.mb));
  v = _mm256_min_ps(_mm256_max_ps(v, l.lo), l.hi);
  const __m256i q = _mm256_add_epi32(_mm256_sub_epi32(_mm256_castps_si256(_mm256_add_ps(v, l.magic)), l.magic_bits), l.zy);
  // int32 -> int8 (in range already): pack to 16 then 8 bits, lanes back in order.
  const __m256i w = _mm256_packs_epi32(q, q);
  const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(w, w), l.pack_order);
  const long long out = _mm_cvtsi128_si64(_mm256_castsi256_si128(bytes));
  std::memcpy(y, &out, 8);
}

}  // namespace

void qadd_avx2(const int8_t* a, const int8_t* b, int8_t* y, size_t n, const QAddParams& p) {
  const Lanes l{_mm256_set1_epi32(p.za), _mm256_set1_epi32(p.zb), _mm256_set1_epi32(p.ep.zero_point),
                _mm256_set1_epi32(0x4B400000), _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4), _mm256_set1_ps(p.ma),
                _mm256_set1_ps(p.mb), _mm256_set1_ps(float(p.ep.lo - p.ep.zero_point)),
                _mm256_set1_ps(float(p.ep.hi - p.ep.zero_point)), _mm256_set1_ps(12582912.0f)};
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
