// The AMX bf16 GEMM kernel (gemm_amxbf16.inc): this file alone is compiled with -mamx-tile
// -mamx-bf16, and its kernel runs only where cpu_features() reports AMX-BF16 with the tile
// state granted (kernel_table.cpp). Per call, 16 rows x 32 columns (x 16 for the 16x16, with
// tiles 0, 2 and 3 alone):
//   tiles 0, 1: C, 16 rows x 16 fp32 (columns 0-15, 16-31), started from the bias (a row
//               loaded 16 times: stride 0);
//   tile 2:     A, 16 rows x 16 k-pairs of bf16, converted from the fp32 arena rows on the
//               stack as the AVX512-BF16 kernels convert them (gemm_bf16_tile.h's bf16_row:
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

// 16 rows x 16 NV columns: NV C tiles (0, 1), one A tile (2) shared by NV B tiles (3, 4).
template <int NV>
void amx_tile(const GemmTile& t) {
  constexpr int MR = 16, NR = 16 * NV, kBlockPairs = 16, kSegPairs = 128;  // A copy: 16 x 512 bytes
  ATTOCORE_TILE_LOADD(0, t.panel, 0);  // the 16 biases of each half, in every row
  if (NV == 2) ATTOCORE_TILE_LOADD(1, t.panel + 16, 0);
  const float* a[MR];
  for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.a_stride;
  const uint32_t* w = reinterpret_cast<const uint32_t*>(t.panel + NR);
  const int k = t.k, pairs = (k + 1) / 2;
  alignas(64) uint32_t ab[MR][kSegPairs];
  for (int p0 = 0; p0 < pairs; p0 += kSegPairs) {
    const int n = pairs - p0 < kSegPairs ? pairs - p0 : kSegPairs;
    const int n16 = (n + kBlockPairs - 1) / kBlockPairs * kBlockPairs;
    const int floats = k - 2 * p0 < 2 * n ? k - 2 * p0 : 2 * n;
    for (int r = 0; r < MR; ++r) {
      bf16_row<Bf16Native>(a[r] + 2 * size_t(p0), floats, ab[r]);
      for (int q = n; q < n16; ++q) ab[r][q] = 0;  // the packing's padding pairs are zero too
    }
    for (int q = 0; q < n; q += kBlockPairs) {
      const uint32_t* wq = w + size_t(p0 + q) * NR;
      ATTOCORE_TILE_LOADD(2, &ab[0][q], kSegPairs * 4);
      ATTOCORE_TILE_LOADD(3, wq, NR * 4);
      _tile_dpbf16ps(0, 2, 3);
      if (NV == 2) {
        ATTOCORE_TILE_LOADD(4, wq + 16, NR * 4);
        _tile_dpbf16ps(1, 2, 4);
      }
    }
  }
  alignas(64) float cbuf[MR][NR];
  _tile_stored(0, &cbuf[0][0], NR * 4);
  if (NV == 2) _tile_stored(1, &cbuf[0][16], NR * 4);
  __m512 acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_load_ps(&cbuf[r][16 * v]);
  store_tile<VecAvx512, MR, NV>(acc, t.rows, t.cols, t.c, t.c_stride, t.residual, t.r_stride, t.ep);
}

}  // namespace

void gemm_16x32_amxbf16(const GemmTile& t) { amx_tile<2>(t); }
void gemm_16x16_amxbf16(const GemmTile& t) { amx_tile<1>(t); }

}  // namespace attocore
