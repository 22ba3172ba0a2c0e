// AVX2 int8 GEMM, exact on any CPU with AVX2: A and W sign-extended to int16 and multiplied
// in pairs by vpmaddwd into int32 (each pair sum is at most 2 * 128 * 127, far inside int32).
// Not vpmaddubsw: its int16 pair sums saturate (255 * 127 * 2 > 32767), which would break the bits.
// Per row, 4 bytes of A as int16 [a0 a1 a2 a3] in every 64-bit lane (one 8-byte broadcast
// from a band of rows widened on the stack, or a broadcast and vpmovsxbw for very long rows);
// against weights packed per 4 columns as int16 [W[j][4q .. 4q+3]] (qgemm_pack.cpp) each
// int32 lane pair sums one column's 4 products, halves added once at the end (vphaddd).
// Tiles: 6 rows x 8 columns or 3 rows x 16, 12 ymm accumulators.
#include <immintrin.h>

#include <cstring>

#include "kernels/qgemm/qgemm.h"
#include "kernels/qgemm/qgemm_store_avx2.h"

namespace attocore {
namespace {

constexpr int kNr = 8;

inline __m256i widen_quad(int32_t quad) { return _mm256_cvtepi8_epi16(_mm_set1_epi32(quad)); }

struct Tile {
  const int8_t* a;
  size_t lda;
  int rows;              // valid rows, 1..MR
  const int16_t* w;      // the first block's weights
  size_t w_stride;       // int16s between blocks
  const int32_t* bias;
  const float* mult;
  int cols;              // valid columns, 1..8 NV
  int8_t* c;
  size_t ldc;
  int k;
};

// Not inlined: inside its caller GCC spilled the accumulators to the stack.
// kStaged: A is a staged int16 copy (t.a, t.lda in bytes), padded to whole groups of 4, so a
// group's broadcast is one load; otherwise the caller's int8 rows, widened here.
template <int MR, int NV, bool kStaged>
__attribute__((noinline)) void tile_kernel(const Tile& t, const QStoreAvx2& store) {
  __m256i acc[MR][NV][2];
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r)
    _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) acc[r][v][0] = acc[r][v][1] = _mm256_setzero_si256();
  const int8_t* a[MR];
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.lda;
  const int16_t* w = t.w;
  const int quads = kStaged ? (t.k + 3) / 4 : t.k / 4, left = kStaged ? 0 : t.k % 4;
  auto step = [&](const __m256i (&x)[MR]) {
    _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) {
      const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + v * t.w_stride));
      const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + v * t.w_stride + 16));
      _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
        acc[r][v][0] = _mm256_add_epi32(acc[r][v][0], _mm256_madd_epi16(x[r], b0));
        acc[r][v][1] = _mm256_add_epi32(acc[r][v][1], _mm256_madd_epi16(x[r], b1));
      }
    }
    w += 32;
  };
  for (int q = 0; q < quads; ++q) {
    __m256i x[MR];
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      if (kStaged) {
        int64_t quad;
        std::memcpy(&quad, a[r] + 8 * q, 8);
        x[r] = _mm256_set1_epi64x(quad);
      } else {
        int32_t quad;
        std::memcpy(&quad, a[r] + 4 * q, 4);
        x[r] = widen_quad(quad);
      }
    }
    step(x);
  }
  if (left) {  // the last 1-3 bytes copied (a 4-byte load would read past the row); weights zero-padded
    __m256i x[MR];
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      int32_t quad = 0;
      std::memcpy(&quad, a[r] + 4 * quads, size_t(left));
      x[r] = widen_quad(quad);
    }
    step(x);
  }
  _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) {
    const int cols = t.cols - kNr * v;
    if (cols <= 0) continue;
    const __m256i bias = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.bias + kNr * v));
    const __m256 mult = _mm256_loadu_ps(t.mult + kNr * v);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      if (r >= t.rows) continue;  // (not break: the loop must unroll, keeping acc in registers)
      // [c0 c1 c4 c5 | c2 c3 c6 c7], then 64-bit lanes reordered to c0 .. c7.
      const __m256i s = _mm256_hadd_epi32(acc[r][v][0], acc[r][v][1]);
      const __m256i sum = _mm256_add_epi32(_mm256_permute4x64_epi64(s, _MM_SHUFFLE(3, 1, 2, 0)), bias);
      store(t.c + size_t(r) * t.ldc + kNr * v, cols, sum, mult);
    }
  }
}

// Rows [m0, m1) of one column tile, MR at a time; A's row m0 at a, lda bytes apart.
template <int NV, int MR, bool kStaged>
void run_rows(const QGemmArgs& g, Tile t, const int8_t* a, size_t lda, int col0, int m0, int m1,
              const QStoreAvx2& store) {
  t.lda = lda;
  for (int m = m0; m < m1; m += MR) {
    t.a = a + size_t(m - m0) * lda;
    t.c = g.c + size_t(m) * g.ldc + col0;
    t.rows = m1 - m < MR ? m1 - m : MR;
    tile_kernel<MR, NV, kStaged>(t, store);
  }
}

// Rows [m0, m1) of A widened to int16 into stage, kpad int16s apart (zero padded). A row's
// last partial 16 bytes are copied out first (AVX2 has no byte-masked load).
void stage_rows(const QGemmArgs& g, int m0, int m1, int k, int kpad, int16_t* stage) {
  for (int m = m0; m < m1; ++m) {
    const int8_t* src = g.a + size_t(m) * g.lda;
    int16_t* dst = stage + size_t(m - m0) * kpad;
    int i = 0;
    for (; i + 16 <= k; i += 16)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
    for (; i < kpad; ++i) dst[i] = i < k ? src[i] : 0;
  }
}

template <bool kStaged>
void run_band(const QGemmArgs& g, const int8_t* a, size_t lda, int m0, int m1, const QStoreAvx2& store) {
  const PackedQGemm& p = *g.w;
  const int16_t* weights = reinterpret_cast<const int16_t*>(p.weights.data());
  const size_t w_stride = size_t(kNr) * p.kpad;
  const int blocks = (p.n + kNr - 1) / kNr;
  for (int b = 0; b < blocks;) {
    const int nv = blocks - b >= 2 ? 2 : 1;
    Tile t{};
    t.ldc = g.ldc, t.k = p.k, t.w_stride = w_stride;
    t.w = weights + size_t(b) * w_stride;
    t.bias = p.bias.data() + size_t(b) * kNr;
    t.mult = p.multiplier.data() + size_t(b) * kNr;
    t.cols = p.n - b * kNr;
    if (nv == 2)
      run_rows<2, 3, kStaged>(g, t, a, lda, b * kNr, m0, m1, store);
    else
      run_rows<1, 6, kStaged>(g, t, a, lda, b * kNr, m0, m1, store);
    b += nv;
  }
}

}  // namespace

// qgemm_avx2_pack: qgemm_pack.cpp.

void qgemm_avx2(const QGemmArgs& g) {
  const PackedQGemm& p = *g.w;
  const QStoreAvx2 store(g.ep);
  // Bands of rows, every column tile passing over a band while its A is in cache. Up to k =
  // 2730 a band of 6 to 96 rows is first widened to int16 on the stack (32 KiB), so that a
  // group's broadcast is a load and not a load and a vpmovsxbw per row; longer rows are
  // widened in the kernel.
  constexpr int kStageInt16 = 16384;
  alignas(32) int16_t stage[kStageInt16];
  int band = kStageInt16 / p.kpad / 6 * 6;
  const bool staged = band >= 6;
  if (band > 96 || !staged) band = 96;
  for (int m0 = 0; m0 < g.rows; m0 += band) {
    const int m1 = g.rows - m0 < band ? g.rows : m0 + band;
    if (staged) {
      stage_rows(g, m0, m1, p.k, p.kpad, stage);
      run_band<true>(g, reinterpret_cast<const int8_t*>(stage), 2 * size_t(p.kpad), m0, m1, store);
    } else {
      run_band<false>(g, g.a + size_t(m0) * g.lda, g.lda, m0, m1, store);
    }
  }
}

}  // namespace attocore
