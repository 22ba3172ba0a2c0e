// The epilogue of the 8-wide k-quad kernels on 16-lane vectors (gemm_avx512.cpp's fp32
// 6x8 and gemm_bf16_tile.h's bf16 6x8), whose accumulator pair acc[r][0..1] holds in 128-bit
// lane L the four phase sums of outputs L and 4 + L: the phases added (p0 + p1) + (p2 + p3),
// then bias, residual and clamp on 8 lanes. Internal linkage, as gemm_tile.h; for files
// compiled with -mavx512f and -mavx2.
#pragma once
#include <immintrin.h>

#include "kernels/gemm/gemm.h"
#include "kernels/simd/clamp.h"
#include "kernels/simd/vec_avx2.h"

namespace attocore {
namespace {

template <int MR>
__attribute__((always_inline)) inline void store_quads8(__m512 (&acc)[MR][2], const GemmTile& t) {
  // Per lane: [p0 p2 | p0 p2] + [p1 p3 | p1 p3] of acc[r][0] and acc[r][1], then the two
  // halves added, leaves output L in element 0 and output 4 + L in element 2 of lane L. The
  // 8 outputs then take the 8-lane epilogue.
  using Out = VecAvx2;
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 2, 6, 10, 14, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m256 bias = Out::load(t.panel);
  const VecClamp<Out> clamp(t.ep);
  const bool full = t.cols >= 8;
  const Out::Mask mask = Out::first(t.cols);
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
    if (r < t.rows) {
      const __m512 u = _mm512_add_ps(_mm512_shuffle_ps(acc[r][0], acc[r][1], 0x88), _mm512_shuffle_ps(acc[r][0], acc[r][1], 0xDD));
      const __m512 s = _mm512_add_ps(u, _mm512_shuffle_ps(u, u, 0xB1));
      __m256 y = Out::add(bias, _mm512_castps512_ps256(_mm512_permutexvar_ps(order, s)));
      float* c = t.c + size_t(r) * t.c_stride;
      const float* res = t.residual ? t.residual + size_t(r) * t.r_stride : nullptr;
      if (res) y = Out::add(y, full ? Out::load(res) : Out::load_first(res, mask));
      y = clamp(y);
      if (full) {
        Out::store(c, y);
      } else {
        Out::store_first(c, mask, y);
      }
    }
  }
}

}  // namespace
}  // namespace attocore
