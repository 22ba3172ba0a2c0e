// AVX-VNNI int8 GEMM: qgemm_avx512vnni.cpp's method on ymm (vpdpbusd, the VEX encoding:
// _mm256_dpbusd_avx_epi32, exact int32 sums). A made unsigned by xor 0x80 on the fly, the
// +128 and a_zp folded into the bias; weights in the c4 layout of 8-column blocks
// (qgemm_pack.cpp). AVX2 has no byte masks, so a row's last 1-3 bytes of k are copied out
// and short column tails stored through a staged copy (qgemm_store_avx2.h).
// Tiles: 8 rows x 8 columns or 6 rows x 16.
#include <immintrin.h>

#include <cstring>

#include "kernels/qgemm/qgemm.h"
#include "kernels/qgemm/qgemm_store_avx2.h"

namespace attocore {
namespace {

constexpr int kNr = 8;

struct Tile {
  const int8_t* a;
  size_t lda;
  int rows;              // valid rows, 1..MR
  const int8_t* w;       // the first block's weights
  size_t w_stride;       // bytes between blocks
  const int32_t* bias;
  const float* mult;
  int cols;              // valid columns, 1..8 NV
  int8_t* c;
  size_t ldc;
  int k;
};

// Not inlined: inside its caller GCC spilled the accumulators to the stack.
template <int MR, int NV>
__attribute__((noinline)) void tile_kernel(const Tile& t, const QStoreAvx2& store) {
  __m256i acc[MR][NV];
  _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) {
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.bias + kNr * v));
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) acc[r][v] = b;
  }
  const int8_t* a[MR];
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.lda;
  const __m256i flip = _mm256_set1_epi8(int8_t(0x80));
  const int8_t* w = t.w;
  const int quads = t.k / 4, left = t.k % 4;
  auto step = [&](const int32_t (&quad)[MR]) {
    __m256i b[NV];
    _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v)
      b[v] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + v * t.w_stride));
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      const __m256i x = _mm256_xor_si256(_mm256_set1_epi32(quad[r]), flip);
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_dpbusd_avx_epi32(acc[r][v], x, b[v]);
    }
    w += 32;
  };
  for (int q = 0; q < quads; ++q) {
    int32_t quad[MR];
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) std::memcpy(&quad[r], a[r] + 4 * q, 4);
    step(quad);
  }
  if (left) {  // absent bytes become 0x80 after the xor and meet zero-padded weights
    int32_t quad[MR];
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      quad[r] = 0;
      std::memcpy(&quad[r], a[r] + 4 * quads, size_t(left));
    }
    step(quad);
  }
  _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) {
    const int cols = t.cols - kNr * v;
    if (cols <= 0) continue;
    const __m256 mult = _mm256_loadu_ps(t.mult + kNr * v);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      if (r >= t.rows) continue;  // (not break: the loop must unroll, keeping acc in registers)
      store(t.c + size_t(r) * t.ldc + kNr * v, cols, acc[r][v], mult);
    }
  }
}

template <int NV, int MR>
void run_rows(const QGemmArgs& g, Tile t, int col0, int m0, int m1, const QStoreAvx2& store) {
  for (int m = m0; m < m1; m += MR) {
    t.a = g.a + size_t(m) * g.lda;
    t.c = g.c + size_t(m) * g.ldc + col0;
    t.rows = m1 - m < MR ? m1 - m : MR;
    tile_kernel<MR, NV>(t, store);
  }
}

}  // namespace

// qgemm_avxvnni_pack: qgemm_pack.cpp.

void qgemm_avxvnni(const QGemmArgs& g) {
  const PackedQGemm& p = *g.w;
  const size_t w_stride = size_t(kNr) * p.kpad;
  const int blocks = (p.n + kNr - 1) / kNr;
  const QStoreAvx2 store(g.ep);
  constexpr int kBand = 96;  // rows whose A stays in L2 while every column tile passes over it
  for (int m0 = 0; m0 < g.rows; m0 += kBand) {
    const int m1 = g.rows - m0 < kBand ? g.rows : m0 + kBand;
    for (int b = 0; b < blocks;) {
      const int nv = blocks - b >= 2 ? 2 : 1;
      Tile t{};
      t.lda = g.lda, t.ldc = g.ldc, t.k = p.k, t.w_stride = w_stride;
      t.w = p.weights.data() + size_t(b) * w_stride;
      t.bias = p.bias.data() + size_t(b) * kNr;
      t.mult = p.multiplier.data() + size_t(b) * kNr;
      t.cols = p.n - b * kNr;
      if (nv == 2)
        run_rows<2, 6>(g, t, b * kNr, m0, m1, store);
      else
        run_rows<1, 8>(g, t, b * kNr, m0, m1, store);
      b += nv;
    }
  }
}

}  // namespace attocore
