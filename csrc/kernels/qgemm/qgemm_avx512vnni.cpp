// AVX-512 VNNI int8 GEMM: vpdpbusd (unsigned x signed bytes, four products summed into each
// int32 lane, exact: not the saturating vpdpbusds) on zmm. A is made unsigned (xor 0x80 =
// A + 128: on the fly, or staged per band of rows where that pays) and the packed bias
// carries -(128 + a_zp) * sum_k W[n][k], so
//   bias' + sum_k (A + 128) W = bias + sum_k (A - a_zp) W.
// Weights: blocks of 16 output channels; within a block, per group of 4 k, 64 bytes: column
// j's W[j][4q .. 4q+3] at 4j (XNNPACK's qs8 "c4" layout), k zero-padded to a multiple of 4.
// A tile is MR rows x NV blocks: MR x NV accumulators, one weight load per block and one
// 4-byte broadcast (+ xor, unstaged) per row per k group.
#include <immintrin.h>

#include <cstring>

#include "kernels/qgemm/qgemm.h"

namespace attocore {
namespace {

constexpr int kNr = 16;

// Four bytes of A from p as a broadcast dword, made unsigned.
inline __m512i broadcast_quad(const int8_t* p, __m512i flip) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_xor_si512(_mm512_set1_epi32(v), flip);
}

// The last 1-3 bytes of a row, masked so that nothing past the row is read; the absent bytes
// become 0x80 after the xor and meet zero-padded weights.
inline __m512i broadcast_tail(const int8_t* p, int left, __m512i flip) {
  const __m128i v = _mm_maskz_loadu_epi8(__mmask16((1u << left) - 1), p);
  return _mm512_xor_si512(_mm512_broadcastd_epi32(v), flip);
}

struct Tile {
  const int8_t* a;
  size_t lda;
  int rows;              // valid rows, 1..MR
  const int8_t* w;       // the first block's weights
  size_t w_stride;       // bytes between blocks
  const int32_t* bias;   // of the first block's columns
  const float* mult;
  int cols;              // valid columns, 1..16 NV
  int8_t* c;
  size_t ldc;
  int k;
};

// kFlip: A is the caller's (xor and masked tail here); otherwise a staged copy, already
// unsigned and padded to whole groups of 4.
// Not inlined: inside its caller GCC spilled the accumulators to the stack.
template <int MR, int NV, bool kFlip>
__attribute__((noinline)) void tile_kernel(const Tile& t, const QuantEpilogue& ep) {
  __m512i acc[MR][NV];
  _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) {
    const __m512i b = _mm512_loadu_si512(t.bias + kNr * v);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) acc[r][v] = b;
  }
  const int8_t* a[MR];
  // Rows past the tile's valid ones repeat its last row (computed, never stored).
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.lda;
  const __m512i flip = _mm512_set1_epi8(int8_t(0x80));
  const int8_t* w = t.w;
  const int quads = kFlip ? t.k / 4 : (t.k + 3) / 4, left = kFlip ? t.k % 4 : 0;
  _Pragma("GCC unroll 2") for (int q = 0; q < quads; ++q, w += 64) {
    __m512i b[NV];
    _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) b[v] = _mm512_loadu_si512(w + v * t.w_stride);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      int32_t quad;
      std::memcpy(&quad, a[r] + 4 * q, 4);
      const __m512i x = kFlip ? broadcast_quad(a[r] + 4 * q, flip) : _mm512_set1_epi32(quad);
      _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], x, b[v]);
    }
  }
  if (left) {
    __m512i b[NV];
    _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) b[v] = _mm512_loadu_si512(w + v * t.w_stride);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      const __m512i x = broadcast_tail(a[r] + 4 * quads, left, flip);
      _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], x, b[v]);
    }
  }
  // requantize.h on 16 lanes: fp32 multiply, clamp in float, round half to even (cvtps2dq
  // under the default MXCSR), + zp, then narrow (in range already, so saturation is a no-op).
  const __m512 lo = _mm512_set1_ps(float(ep.lo - ep.zero_point)), hi = _mm512_set1_ps(float(ep.hi - ep.zero_point));
  const __m512i zp = _mm512_set1_epi32(ep.zero_point);
  _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) {
    const __m512 m = _mm512_loadu_ps(t.mult + kNr * v);
    const int cols = t.cols - kNr * v;
    const __mmask16 store = cols >= kNr ? __mmask16(0xFFFF) : __mmask16((1u << (cols > 0 ? cols : 0)) - 1);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      if (r >= t.rows) continue;  // (not break: the loop must unroll, keeping acc in registers)
      __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][v]), m);
      y = _mm512_min_ps(_mm512_max_ps(y, lo), hi);
      const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(y), zp);
      _mm512_mask_cvtsepi32_storeu_epi8(t.c + size_t(r) * t.ldc + kNr * v, store, q);
    }
  }
}

// The rows [m0, m1) of one column tile, MR at a time: MR x NV accumulators within the 32 zmm
// registers, with room for NV weights and a broadcast.
// Rows [m0, m1) of one column tile, MR at a time; A's row m0 at a, lda apart.
template <int NV, int MR, bool kFlip>
void run_rows(const QGemmArgs& g, Tile t, const int8_t* a, size_t lda, int col0, int m0, int m1) {
  t.lda = lda;
  for (int m = m0; m < m1; m += MR) {
    t.a = a + size_t(m - m0) * lda;
    t.c = g.c + size_t(m) * g.ldc + col0;
    t.rows = m1 - m < MR ? m1 - m : MR;
    tile_kernel<MR, NV, kFlip>(t, g.ep);
  }
}

// Rows [m0, m1) of A made unsigned (xor 0x80) into stage, `stride` bytes apart (a multiple
// of 64, so every store is one whole aligned line): masked loads read nothing past a row's
// k bytes; the padding becomes 0x80 and meets zero weights.
void stage_rows(const QGemmArgs& g, int m0, int m1, int k, size_t stride, int8_t* stage) {
  const __m512i flip = _mm512_set1_epi8(int8_t(0x80));
  for (int m = m0; m < m1; ++m) {
    const int8_t* src = g.a + size_t(m) * g.lda;
    int8_t* dst = stage + size_t(m - m0) * stride;
    for (size_t i = 0; i < stride; i += 64) {
      const int64_t n = int64_t(k) - int64_t(i);
      const __mmask64 load = n >= 64 ? ~__mmask64(0) : n <= 0 ? 0 : (__mmask64(1) << n) - 1;
      _mm512_store_si512(dst + i, _mm512_xor_si512(_mm512_maskz_loadu_epi8(load, src + i), flip));
    }
  }
}

template <bool kFlip>
void run_band(const QGemmArgs& g, const int8_t* a, size_t lda, int m0, int m1) {
  const PackedQGemm& p = *g.w;
  const size_t w_stride = size_t(kNr) * p.kpad;
  const int blocks = (p.n + kNr - 1) / kNr;
  for (int b = 0; b < blocks;) {
    const int nv = blocks - b >= 4 ? 4 : blocks - b;
    Tile t{};
    t.ldc = g.ldc, t.k = p.k, t.w_stride = w_stride;
    t.w = p.weights.data() + size_t(b) * w_stride;
    t.bias = p.bias.data() + size_t(b) * kNr;
    t.mult = p.multiplier.data() + size_t(b) * kNr;
    t.cols = p.n - b * kNr;
    switch (nv) {
      case 1: run_rows<1, 8, kFlip>(g, t, a, lda, b * kNr, m0, m1); break;
      case 2: run_rows<2, 8, kFlip>(g, t, a, lda, b * kNr, m0, m1); break;
      case 3: run_rows<3, 6, kFlip>(g, t, a, lda, b * kNr, m0, m1); break;
      default: run_rows<4, 6, kFlip>(g, t, a, lda, b * kNr, m0, m1); break;
    }
    b += nv;
  }
}

}  // namespace

// qgemm_avx512vnni_pack: qgemm_pack.cpp (no ISA code, and no library templates emitted here).

void qgemm_avx512vnni(const QGemmArgs& g) {
  const PackedQGemm& p = *g.w;
  // Bands of rows, every column tile passing over a band while its A is in cache. Up to k =
  // 1344 (every zoo layer) a band of 24 to 96 rows may first be staged unsigned on the stack
  // (32 KiB: callers' threads may have small stacks), sparing the kernel its xor per
  // broadcast; otherwise rows are read in place and flipped on the fly.
  constexpr int kStageBytes = 32768;
  alignas(64) int8_t stage[kStageBytes];
  const size_t stride = (size_t(p.kpad) + 63) / 64 * 64;
  int band = int(kStageBytes / stride) / 24 * 24;
  // Measured (Ice Lake-SP): staging gains 3-20% from 2 column blocks on, but loses up to
  // a quarter with one block (n <= 16) or very short k, where the copy is not repaid.
  const bool staged = band >= 24 && p.n > kNr && p.k >= 32;
  if (band > 96 || !staged) band = 96;
  for (int m0 = 0; m0 < g.rows; m0 += band) {
    const int m1 = g.rows - m0 < band ? g.rows : m0 + band;
    if (staged) {
      stage_rows(g, m0, m1, p.k, stride, stage);
      run_band<false>(g, stage, stride, m0, m1);
    } else {
      run_band<true>(g, g.a + size_t(m0) * g.lda, g.lda, m0, m1);
    }
  }
}

}  // namespace attocore
