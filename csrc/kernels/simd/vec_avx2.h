// 8-lane float vectors on AVX2 + FMA, in the vocabulary the shared kernel templates
// (gemm/gemm_tile.h, dwconv/dwconv_chunks.h) are written in. Only for files compiled with
// -mavx2 -mfma. Internal linkage throughout (as in every simd/ header): each ISA's file gets
// its own copy, so the linker can never merge an AVX-512 build of an inline function into
// the code that runs on AVX2-only CPUs.
#pragma once
#include <immintrin.h>

namespace attocore {
namespace {

struct VecAvx2 {
  using V = __m256;
  using Mask = __m256i;  // lanes [0, n) of a partial vector
  static constexpr int kLanes = 8;
  static constexpr bool kFmaByLane = false;  // no FMA by lane of a vector (see vec_neon.h)

  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V zero() { return _mm256_setzero_ps(); }
  static V fma(V acc, V a, V b) { return _mm256_fmadd_ps(a, b, acc); }  // acc + a * b, one rounding
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }  // a > b ? a : b, per lane
  static V min(V a, V b) { return _mm256_min_ps(a, b); }  // a < b ? a : b, per lane
  // For the activation kernels' exp (activation/activation_loops.h).
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V floor(V v) { return _mm256_floor_ps(v); }
  static V pow2(V n) {  // 2^n for integral n in [-126, 127]: n + 127 in the exponent bits
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
  }

  static Mask first(int n) {  // n <= 0: no lane
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V load_first(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }  // zeros elsewhere; reads only them
  static void store_first(float* p, Mask m, V v) { _mm256_maskstore_ps(p, m, v); }
  // (a[0], a[1]) in every lane pair: one 8-byte broadcast feeds two k-steps (GemmPacking::kPairs).
  static V broadcast_pair(const float* a) {
    return _mm256_castpd_ps(_mm256_broadcast_sd(reinterpret_cast<const double*>(a)));
  }
  // The k-pair kernel's outputs from its two accumulators: lanes 2j, 2j+1 of lo hold output j's
  // two k phases (outputs 0-3), of hi outputs 4-7. hadd gives [o0 o1 o4 o5 | o2 o3 o6 o7]; the
  // 64-bit permute restores o0..o7.
  static V sum_pairs(V lo, V hi) {
    const __m256 h = _mm256_hadd_ps(lo, hi);
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(h), _MM_SHUFFLE(3, 1, 2, 0)));
  }
};

}  // namespace
}  // namespace attocore
