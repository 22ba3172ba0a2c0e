// AVX2+FMA GEMM microkernels (compiled with -mavx2 -mfma; called only when cpuid says so).
// MR rows x NV 8-wide vectors: per k, one broadcast of A per row and NV loads of B.
#include <immintrin.h>

#include "kernels/gemm/gemm.h"
#include "kernels/gemm/gemm_avx2.h"

namespace attocore {
namespace {

inline __m256i tail_mask(int n) {  // lanes [0, n) set
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

template <int MR, int NV>
void gemm_avx2(const GemmTile& t) {
  constexpr int NR = NV * 8;
  __m256 acc[MR][NV];
  const float* w = t.panel;
  _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) {
    const __m256 b = _mm256_loadu_ps(w + 8 * v);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) acc[r][v] = b;
  }
  w += NR;
  const float* a[MR];
  for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.a_stride;  // clamp: never read past A
  for (int ki = 0; ki < t.k; ++ki) {
    __m256 b[NV];
    _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) b[v] = _mm256_loadu_ps(w + 8 * v);
    w += NR;
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      const __m256 x = _mm256_broadcast_ss(a[r] + ki);
      _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(x, b[v], acc[r][v]);
    }
  }
  const __m256 zero = _mm256_setzero_ps(), six = _mm256_set1_ps(6.f);
  auto finish = [&](__m256 y, const float* res, const __m256i* mask) {
    if (res) y = _mm256_add_ps(y, mask ? _mm256_maskload_ps(res, *mask) : _mm256_loadu_ps(res));
    if (t.act != Activation::kNone) y = _mm256_max_ps(y, zero);
    if (t.act == Activation::kRelu6) y = _mm256_min_ps(y, six);
    return y;
  };
  // Every acc index below is a compile-time constant once unrolled, so the accumulators
  // stay in registers through the k loop (a runtime index would pin them to the stack).
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
    if (r < t.rows) {
      float* c = t.c + size_t(r) * t.c_stride;
      const float* res = t.residual ? t.residual + size_t(r) * t.r_stride : nullptr;
      _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) {
        const int left = t.cols - 8 * v;
        if (left >= 8) {
          _mm256_storeu_ps(c + 8 * v, finish(acc[r][v], res ? res + 8 * v : nullptr, nullptr));
        } else if (left > 0) {
          const __m256i m = tail_mask(left);
          _mm256_maskstore_ps(c + 8 * v, m, finish(acc[r][v], res ? res + 8 * v : nullptr, &m));
        }
      }
    }
  }
}

}  // namespace

void gemm_6x16_avx2(const GemmTile& t) { gemm_avx2<6, 2>(t); }
void gemm_8x8_avx2(const GemmTile& t) { gemm_avx2<8, 1>(t); }
void gemm_4x24_avx2(const GemmTile& t) { gemm_avx2<4, 3>(t); }

}  // namespace attocore
