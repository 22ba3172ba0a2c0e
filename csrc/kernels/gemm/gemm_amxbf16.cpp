// The AMX bf16 GEMM kernels (gemm_amxbf16.inc): this file alone is compiled with -mamx-tile
// -mamx-bf16, and its kernels run only where cpu_features() reports AMX-BF16 with the tile
// state granted (kernel_table.cpp). Per call, 16 rows x 32 columns (x 16 for the 16x16, with
// tiles 0, 2 and 3 alone):
//   tiles 0, 1: C, 16 rows x 16 fp32 (columns 0-15, 16-31), started from the bias (a row
//               loaded 16 times: stride 0);
//   tile 2:     A, 16 rows x 16 k-pairs of bf16, converted from the fp32 arena rows into a
//               thread-local copy as the AVX512-BF16 kernels convert them (gemm_bf16_tile.h's bf16_row:
//               round to nearest even), zero past k;
//   tiles 3, 4: B, 16 k-pairs x 16 columns of the kBf16Tiles panel in place (one k-pair row
//               of the panel is 32 words: row stride 128 bytes, the second tile 64 bytes in);
//               the packing pads the k-pairs to a multiple of 16 with zeros, so the last
//               block too is loaded in place, never past the panel.
// The tile configuration (every tile 16 rows x 64 bytes) is loaded by configure_amx_tiles,
// which the driver calls once per run of tiles on its thread (GemmKernel::configure): per
// tile it cost ~90 ns, a third of a 16 x 32 tile at k = 24.
// Then C goes to the stack and through the fp32 epilogue of every AVX-512 kernel (residual,
// clamp: gemm_tile.h's store_tile). The tile unit's summation order inside a k-pair block is
// its own (Intel documents the products of a pair added in turn; the hardware may round
// otherwise): the tester holds it to the bf16 bound against fp32 and counts, without
// requiring, agreement with the vdpbf16ps model.
#include "kernels/gemm/gemm_amxbf16.h"

#include <immintrin.h>

#include <cstdint>

#include "kernels/gemm/gemm_bf16_tile.h"
#include "kernels/simd/bf16_avx512.h"

namespace attocore {
namespace {

struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// GCC 12's _tile_loadconfig tells the compiler it reads 8 bytes of the 64 (so the stores of
// the rest were dropped: a fault at the first tile load), and its _tile_loadd that it reads no
// memory at all (so the A copy's stores could be dropped or moved past it): both are written
// here with the memory they read. (_tile_stored and _tile_dpbf16ps are GCC's own.)
#define ATTOCORE_TILE_LOADD(tile, base, stride) \
  __asm__ volatile("tileloadd (%0,%1,1), %%tmm" #tile ::"r"(base), "r"(long(stride)) : "memory")

inline void load_tile_config(const TileConfig& c) { __asm__ volatile("ldtilecfg %0" ::"m"(c) : "memory"); }

}  // namespace

// Loaded for every run of tiles, not once per thread: other code on the thread (another
// library's AMX kernels, in the same process) may configure the tiles otherwise or release
// them between two of attocore's runs.
void configure_amx_tiles() {
  TileConfig c;
  for (int i = 0; i < 5; ++i) c.colsb[i] = 64, c.rows[i] = 16;
  load_tile_config(c);
}

namespace {

constexpr int MR = 16, kBlockPairs = 16;  // a tile product: 16 rows, 16 k-pairs

// A's rows, floats [2 p0, 2 (p0 + n)) (at most k), as bf16 pairs at ab (row stride ld words),
// zero from pair n to the next multiple of 16 (the packing's padding pairs are zero too).
inline void convert_a(const float* const* a, int k, int p0, int n, uint32_t* ab, int ld) {
  const int n16 = (n + kBlockPairs - 1) / kBlockPairs * kBlockPairs;
  const int floats = k - 2 * p0 < 2 * n ? k - 2 * p0 : 2 * n;
  for (int r = 0; r < MR; ++r) {
    bf16_row<Bf16Native>(a[r] + 2 * size_t(p0), floats, ab + size_t(r) * ld);
    for (int q = n; q < n16; ++q) ab[size_t(r) * ld + q] = 0;
  }
}

// C tiles 0 (and 1) += A's pairs [0, n) at ab x the panel's k-pair rows from w (NR words each).
template <int NV>
inline void multiply(const uint32_t* ab, int ld, int n, const uint32_t* w) {
  constexpr int NR = 16 * NV;
  for (int q = 0; q < n; q += kBlockPairs) {
    const uint32_t* wq = w + size_t(q) * NR;
    ATTOCORE_TILE_LOADD(2, ab + q, ld * 4);
    ATTOCORE_TILE_LOADD(3, wq, NR * 4);
    _tile_dpbf16ps(0, 2, 3);
    if (NV == 2) {
      ATTOCORE_TILE_LOADD(4, wq + 16, NR * 4);
      _tile_dpbf16ps(1, 2, 4);
    }
  }
}

template <int NV>
inline void load_bias(const float* panel) {
  ATTOCORE_TILE_LOADD(0, panel, 0);  // the 16 biases of each half, in every row
  if (NV == 2) ATTOCORE_TILE_LOADD(1, panel + 16, 0);
}

// C tiles through the fp32 epilogue into rows x cols of c.
template <int NV>
inline void store(const GemmTile& t, int cols, float* c, const float* residual) {
  constexpr int NR = 16 * NV;
  alignas(64) float cbuf[MR][NR];
  _tile_stored(0, &cbuf[0][0], NR * 4);
  if (NV == 2) _tile_stored(1, &cbuf[0][16], NR * 4);
  __m512 acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_load_ps(&cbuf[r][16 * v]);
  store_tile<VecAvx512, MR, NV>(acc, t.rows, cols, c, t.c_stride, residual, t.r_stride, t.ep);
}

// The A copy of a call, per thread: 32 KiB, too much for the stack of a thread the caller made
// small (Python's threading.stack_size(32768) took a fault with it in the row kernel's frame).
// Zero-initialised thread-local storage: no constructor to run, and no kernel calls another.
constexpr int kCopyPairs = 512;
alignas(64) thread_local uint32_t a_copy[MR][kCopyPairs];

inline void row_pointers(const GemmTile& t, const float** a) {
  for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.a_stride;
}

// One tile: 16 rows x 16 NV columns, A converted in segments of 128 pairs.
template <int NV>
void amx_tile(const GemmTile& t) {
  constexpr int NR = 16 * NV, kSegPairs = 128;  // a segment of A: 16 x 512 bytes, in L1
  load_bias<NV>(t.panel);
  const float* a[MR];
  row_pointers(t, a);
  const uint32_t* w = reinterpret_cast<const uint32_t*>(t.panel + NR);
  const int pairs = (t.k + 1) / 2;
  uint32_t* const ab = &a_copy[0][0];
  for (int p0 = 0; p0 < pairs; p0 += kSegPairs) {
    const int n = pairs - p0 < kSegPairs ? pairs - p0 : kSegPairs;
    convert_a(a, t.k, p0, n, ab, kCopyPairs);
    multiply<NV>(ab, kCopyPairs, n, w + size_t(p0) * NR);
  }
  store<NV>(t, t.cols, t.c, t.residual);
}

// The row kernel (GemmKernel::rows_for): 16 rows across every wide panel, A converted once
// for all of them (per tile, its conversion was repeated for every panel: at k = 24 it and
// the epilogue were most of the call). k of at most 2 kCopyPairs: A whole in the copy.
void amx_rows(const GemmTile& t) {
  const float* a[MR];
  row_pointers(t, a);
  const int pairs = (t.k + 1) / 2;
  uint32_t* const ab = &a_copy[0][0];
  convert_a(a, t.k, 0, pairs, ab, kCopyPairs);
  for (int p = 0, col = 0; col < t.cols; ++p, col += 32) {
    const float* panel = t.panel + size_t(p) * t.panel_stride;
    load_bias<2>(panel);
    multiply<2>(ab, kCopyPairs, pairs, reinterpret_cast<const uint32_t*>(panel + 32));
    store<2>(t, t.cols - col < 32 ? t.cols - col : 32, t.c + col, t.residual ? t.residual + col : nullptr);
  }
}

}  // namespace

void gemm_16x32_amxbf16(const GemmTile& t) { amx_tile<2>(t); }
void gemm_16x16_amxbf16(const GemmTile& t) { amx_tile<1>(t); }
GemmUkernel gemm_16x32_amxbf16_rows(int k) { return k <= 2 * kCopyPairs ? amx_rows : nullptr; }

}  // namespace attocore
