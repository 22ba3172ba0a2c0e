// The bf16 GEMM tile kernel (precision "bf16"), written once over the bf16 operations of
// simd/bf16_avx512.h: instantiated with the instructions by gemm_avx512bf16.cpp and with
// their AVX-512F emulation by gemm_bf16emu_avx512.cpp (the tester's), so the code the tester
// runs everywhere is the code AVX512-BF16 CPUs run.
//
// Per output: s = bias (fp32); for each k-pair q in order, s = dot(s, A pair, W pair)
// (vdpbf16ps: + a[2q+1] w[2q+1], then + a[2q] w[2q], each rounded once to fp32); then
// residual and clamp in fp32 (gemm_tile.h's store_tile). W comes packed as bf16 pairs
// (GemmPacking::kBf16Pairs, rounded at load); A, fp32 in the arena, is converted per tile: its
// MR rows into a bf16 copy on the stack (32 floats per pack, rounded to nearest even), in
// segments of kSegPairs pairs, zero past k (an odd k's last pair multiplies zero by zero).
// Which of the kernels computes a column never changes its bits (same operations, same order).
// Internal linkage, as gemm_tile.h: each file compiles its own copy.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "kernels/gemm/gemm.h"
#include "kernels/gemm/gemm_quads8_store.h"
#include "kernels/gemm/gemm_tile.h"
#include "kernels/simd/vec_avx512.h"

namespace attocore {
namespace {

// Floats [0, count) of row a as count / 2 rounded-up bf16 pairs at dst (the last pair's high
// half zero when count is odd): masked loads, so nothing past the row is read.
template <class Ops>
__attribute__((always_inline)) inline void bf16_row(const float* a, int count, uint32_t* dst) {
  for (int i = 0; i < count; i += 32, dst += 16) {
    const int left = count - i;
    const __m512 lo = _mm512_maskz_loadu_ps(VecAvx512::first(left), a + i);
    const __m512 hi = _mm512_maskz_loadu_ps(VecAvx512::first(left - 16), a + i + 16);
    const int words = left >= 32 ? 16 : (left + 1) / 2;
    _mm512_mask_storeu_epi32(dst, VecAvx512::first(words), Ops::pack(lo, hi));
  }
}

// MR rows x 16 NV columns: MR x NV zmm accumulators, per k-pair NV weight loads and MR
// broadcasts of an A pair feeding MR x NV dots (2 k-steps of 16 outputs each).
template <class Ops, int MR, int NV>
void gemm_bf16_tile(const GemmTile& t) {
  constexpr int NR = 16 * NV, kSegPairs = 128;  // MR x 512 bytes of A copy on the stack
  __m512 acc[MR][NV];
  _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) {
    const __m512 bias = _mm512_loadu_ps(t.panel + 16 * v);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) acc[r][v] = bias;
  }
  const float* a[MR];
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.a_stride;
  const uint32_t* w = reinterpret_cast<const uint32_t*>(t.panel + NR);
  const int k = t.k, pairs = (k + 1) / 2;
  alignas(64) uint32_t ab[MR][kSegPairs];
  for (int p0 = 0; p0 < pairs; p0 += kSegPairs) {
    const int n = pairs - p0 < kSegPairs ? pairs - p0 : kSegPairs;
    const int floats = k - 2 * p0 < 2 * n ? k - 2 * p0 : 2 * n;
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) bf16_row<Ops>(a[r] + 2 * size_t(p0), floats, ab[r]);
    _Pragma("GCC unroll 2") for (int q = 0; q < n; ++q, w += NR) {
      __m512i b[NV];
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) b[v] = _mm512_loadu_si512(w + 16 * v);
      _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
        const __m512i x = _mm512_set1_epi32(int(ab[r][q]));
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) acc[r][v] = Ops::dot(acc[r][v], x, b[v]);
      }
    }
  }
  store_tile<VecAvx512, MR, NV>(acc, t.rows, t.cols, t.c, t.c_stride, t.residual, t.r_stride, t.ep);
}

// NR = 8 on kBf16Quads packing (gemm.h): acc[r][v] 128-bit lane L accumulates output 4v + L,
// its 4 dwords the phases of 4 consecutive k-pairs; per row one 16-byte broadcast of A's
// pairs 4b .. 4b+3 feeds 8 k-steps of 8 outputs in two dots (the 6x16 kernel would leave
// half its lanes idle on 8 outputs). Phases from zero, summed at the end as the fp32 k-quad
// kernel sums its own: (p0 + p1) + (p2 + p3), then + bias, residual, clamp in fp32. Another
// order than the 6x16's: a column this kernel computes differs from it in the last bits.
template <class Ops, int MR>
void gemm_bf16_quads8(const GemmTile& t) {
  constexpr int kSegPairs = 128;  // a multiple of 4: only the last segment is padded
  __m512 acc[MR][2];
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  const float* a[MR];
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.a_stride;
  const uint32_t* w = reinterpret_cast<const uint32_t*>(t.panel + 8);
  const int k = t.k, pairs = (k + 1) / 2;
  alignas(64) uint32_t ab[MR][kSegPairs];
  for (int p0 = 0; p0 < pairs; p0 += kSegPairs) {
    const int n = pairs - p0 < kSegPairs ? pairs - p0 : kSegPairs, n4 = (n + 3) / 4 * 4;
    const int floats = k - 2 * p0 < 2 * n ? k - 2 * p0 : 2 * n;
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      bf16_row<Ops>(a[r] + 2 * size_t(p0), floats, ab[r]);
      for (int q = n; q < n4; ++q) ab[r][q] = 0;  // the weights past k are zero too
    }
    _Pragma("GCC unroll 2") for (int q = 0; q < n4; q += 4, w += 32) {
      const __m512i b0 = _mm512_loadu_si512(w), b1 = _mm512_loadu_si512(w + 16);
      _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
        const __m512i x = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ab[r] + q)));
        acc[r][0] = Ops::dot(acc[r][0], x, b0);
        acc[r][1] = Ops::dot(acc[r][1], x, b1);
      }
    }
  }
  store_quads8<MR>(acc, t);  // (p0 + p1) + (p2 + p3), bias, residual, clamp
}

}  // namespace
}  // namespace attocore
