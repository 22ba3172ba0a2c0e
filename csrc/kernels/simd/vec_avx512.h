// 16-lane float vectors on AVX-512F (simd/vec_avx2.h's vocabulary; files compiled with
// -mavx512f). Partial vectors go through a 16-bit lane mask.
#pragma once
#include <immintrin.h>

#include <cstring>

namespace attocore {
namespace {

struct VecAvx512 {
  using V = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  static constexpr bool kFmaByLane = false;

  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V broadcast(const float* p) { return _mm512_set1_ps(*p); }  // an FMA's {1to16} memory operand
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V zero() { return _mm512_setzero_ps(); }
  static V fma(V acc, V a, V b) { return _mm512_fmadd_ps(a, b, acc); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V min(V a, V b) { return _mm512_min_ps(a, b); }
  // For the activation kernels' exp (activation/activation_loops.h).
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V floor(V v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
  static V pow2(V n) {  // 2^n for integral n in [-126, 127]: n + 127 in the exponent bits
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
  }

  static Mask first(int n) { return n >= 16 ? Mask(0xFFFF) : n <= 0 ? Mask(0) : Mask((1u << n) - 1); }
  static V load_first(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store_first(float* p, Mask m, V v) { _mm512_mask_storeu_ps(p, m, v); }
  static V broadcast_pair(const float* a) {
    double pair;
    std::memcpy(&pair, a, sizeof pair);
    return _mm512_castpd_ps(_mm512_set1_pd(pair));
  }
  // The k-pair kernel's outputs: 128-bit lane L of lo holds outputs 2L and 2L+1 (k even, k odd
  // each), of hi outputs 8+2L and 9+2L. The in-lane shuffles add the k phases to
  // [o2L o2L+1 o8+2L o9+2L] per lane, the permute restores o0..o15.
  static V sum_pairs(V lo, V hi) {
    const __m512i order = _mm512_setr_epi32(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
    const __m512 even = _mm512_shuffle_ps(lo, hi, 0x88), odd = _mm512_shuffle_ps(lo, hi, 0xDD);
    return _mm512_permutexvar_ps(order, _mm512_add_ps(even, odd));
  }
};

}  // namespace
}  // namespace attocore
