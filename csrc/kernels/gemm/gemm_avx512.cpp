// AVX-512F GEMM microkernels (compiled with -mavx512f; called only when cpuid and the OS say
// the zmm state is usable): gemm_tile.h's kernels on 16-lane vectors, the AVX2 kernels' shapes
// with the last vector of a panel masked instead of padded, and the 8-wide k-quad kernel. Per
// output the operations of the AVX2 plain kernels in the same order (bias, FMAs in k order,
// residual, clamp); a column that one table's panel cut gives to a k-pair or k-quad kernel
// (summed in another order) differs in its last bits.
#include "kernels/gemm/gemm_avx512.h"

#include <immintrin.h>

#include "kernels/gemm/gemm_quads8_store.h"
#include "kernels/gemm/gemm_tile.h"
#include "kernels/simd/vec_avx2.h"
#include "kernels/simd/vec_avx512.h"

namespace attocore {
namespace {

// NR = 8 on k-quad packing (gemm.h): acc[r][v] lane L accumulates output 4v + L over its
// four k phases; per row one 16-byte broadcast of a[4q .. 4q+3] into every 128-bit lane
// feeds 4 k-steps of 8 outputs in two FMAs (the AVX2 k-pair kernel needs two 8-lane FMAs
// for 2 k-steps). The phases are summed once at the end: (p0 + p1) + (p2 + p3).
template <int MR>
void gemm_quads8_avx512(const GemmTile& t) {
  __m512 acc[MR][2];
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  const float* a[MR];
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.a_stride;
  const float* w = t.panel + 16;
  const int quads = t.k / 4, left = t.k % 4;
  _Pragma("GCC unroll 2") for (int q = 0; q < quads; ++q, w += 32) {
    const __m512 b0 = _mm512_loadu_ps(w), b1 = _mm512_loadu_ps(w + 16);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      const __m512 x = _mm512_broadcast_f32x4(_mm_loadu_ps(a[r] + 4 * q));
      acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
    }
  }
  if (left) {
    // The last 1-3 k (weights zero-padded): a masked load, which neither reads past the row
    // nor faults on the lanes it leaves out, then lane 0 broadcast to every 128-bit lane. The
    // copy through a stack array this replaces stalled on store forwarding (its 16-byte load
    // over 1-3 scalar stores): AttoNet-D's k = 3 compression ran at 1.8 GMAC/s.
    const __mmask16 valid = __mmask16((1u << left) - 1);
    const __m512 b0 = _mm512_loadu_ps(w), b1 = _mm512_loadu_ps(w + 16);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      const __m512 v = _mm512_maskz_loadu_ps(valid, a[r] + 4 * quads);
      const __m512 x = _mm512_shuffle_f32x4(v, v, 0);
      acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
    }
  }
  store_quads8<MR>(acc, t);
}

}  // namespace

// 6 rows x 32 columns: 12 zmm accumulators, 2 weight loads and 6 broadcasts per 12 FMAs.
void gemm_6x32_avx512(const GemmTile& t) { gemm_tile<VecAvx512, 6, 2>(t); }
void gemm_5x32_avx512(const GemmTile& t) { gemm_tile<VecAvx512, 5, 2>(t); }
void igemm_6x32_avx512(const GemmIndirectTile& t) { igemm_tile<VecAvx512, 6, 2>(t); }
void gemm_row_32_avx512(const GemmTile& t) { gemm_row<VecAvx512, 2>(t); }
GemmUkernel gemm_rows_6x32_avx512(int k) { return gemm_rows_for<VecAvx512, 6>(k); }
GemmUkernel gemm_rows_5x32_avx512(int k) { return gemm_fewer_rows_for<VecAvx512, 5>(k); }
void gemm_6x16_avx512(const GemmTile& t) { gemm_tile<VecAvx512, 6, 1>(t); }
void igemm_6x16_avx512(const GemmIndirectTile& t) { igemm_tile<VecAvx512, 6, 1>(t); }
void gemm_6x16_pairs_avx512(const GemmTile& t) { gemm_pairs_tile<VecAvx512, 6>(t); }
void gemm_6x8_quads_avx512(const GemmTile& t) { gemm_quads8_avx512<6>(t); }

}  // namespace attocore
