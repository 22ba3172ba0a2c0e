// The int8 GEMM epilogue on 8 int32 lanes for the AVX2-family variants (qgemm_avx2.cpp,
// qgemm_avxvnni.cpp): requantize.h's steps (fp32 multiply, clamp in float, round half to even
// by cvtps2dq under the default MXCSR, + zp), narrowed to bytes (the values are already in
// [-128, 127], so the saturating packs change nothing) and stored to the first `cols` (1..8)
// bytes of c: AVX2 has no byte-masked store, so a short tail goes through a staged copy.
// Internal linkage: each ISA's object gets its own copy (no weak symbols).
#pragma once
#include <immintrin.h>

#include <cstring>

#include "kernels/quant/requantize.h"

namespace attocore {
namespace {

struct QStoreAvx2 {
  __m256 lo, hi;
  __m256i zp;
  explicit QStoreAvx2(const QuantEpilogue& ep)
      : lo(_mm256_set1_ps(float(ep.lo - ep.zero_point))),
        hi(_mm256_set1_ps(float(ep.hi - ep.zero_point))),
        zp(_mm256_set1_epi32(ep.zero_point)) {}

  void operator()(int8_t* c, int cols, __m256i acc, __m256 mult) const {
    __m256 y = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), mult);
    y = _mm256_min_ps(_mm256_max_ps(y, lo), hi);
    const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(y), zp);
    const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    const __m128i b8 = _mm_packs_epi16(w16, w16);
    if (cols >= 8) {
      _mm_storel_epi64(reinterpret_cast<__m128i*>(c), b8);
    } else {
      alignas(16) int8_t staged[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(staged), b8);
      std::memcpy(c, staged, size_t(cols));
    }
  }
};

}  // namespace
}  // namespace attocore
