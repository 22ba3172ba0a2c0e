#include "kernels/gemm/gemm.h"

namespace attocore {
namespace {

// Rows per block for panels of this product. Rows in blocks whose A slice fits in L1
// (kGemmCache.a_block_bytes); inside a block, panel-outer so each packed panel (k x NR, from
// L2) serves every row tile of the block. A B too large for L2 comes from L3 once per block,
// so its blocks hold ~kLargeBRowBytes of A (read from L2). Blocks are equal splits.
int row_block(const PackedGemmB& b, int m, int mr) {
  const size_t a_budget = b.large() ? kLargeBRowBytes : kGemmCache.a_block_bytes;
  int block = int(a_budget / (4 * size_t(b.k > 0 ? b.k : 1))) / mr * mr;
  if (block < mr) block = mr;
  return equal_split_step(m, block, mr);
}

// The kernel for a block of `rows`: `kernel`, or its fewer-rows variant when that pads
// fewer rows (each of its rows measured ~3% dearer: fewer rows share each B load).
const GemmKernel& kernel_for_rows(const GemmKernel& kernel, int rows) {
  const GemmKernel* f = kernel.fewer_rows;
  if (f == nullptr) return kernel;
  const int padded = (rows + kernel.mr - 1) / kernel.mr * kernel.mr;
  const int padded_fewer = (rows + f->mr - 1) / f->mr * f->mr;
  return padded_fewer * 103 < padded * 100 ? *f : kernel;
}

// How many of the ceil(rows / MR) tiles of a block take MR rows when the others take the
// fewer-rows kernel's MR - 1 and no tile is padded (49 rows: 4 x 6 + 5 x 5, 9 tiles, where
// tiles of 6 padded the ninth to a single row and tiles of 5 took 10). An MR - 1 row tile
// costs ~3% more per row than a full one, far less than a padded row: no step of the four
// nets measured slower with the cut. -1 when there is no such split (no fewer-rows kernel one
// row shorter, or rows = 7 or 13: too few).
int full_tiles_of_split(const GemmKernel& kernel, int rows) {
  const GemmKernel* f = kernel.fewer_rows;
  if (f == nullptr || f->mr != kernel.mr - 1) return -1;
  const int tiles = (rows + kernel.mr - 1) / kernel.mr;
  const int full = rows - f->mr * tiles;
  return full >= 0 ? full : -1;
}

}  // namespace

void gemm(const GemmKernel& kernel, int m, const float* a, size_t a_stride, const PackedGemmB& b, float* c,
          size_t c_stride, const float* residual, size_t r_stride, Epilogue ep) {
  gemm_panels(kernel, m, a, a_stride, b, 0, b.panels(), c, c_stride, residual, r_stride, ep);
}

void gemm_panels(const GemmKernel& kernel, int m, const float* a, size_t a_stride, const PackedGemmB& b,
                 int panel_begin, int panel_end, float* c, size_t c_stride, const float* residual, size_t r_stride,
                 Epilogue ep) {
  if (kernel.configure != nullptr) kernel.configure();
  else if (b.tail != nullptr && b.tail->configure != nullptr) b.tail->configure();
  GemmTile t;
  t.k = b.k;
  t.a_stride = a_stride;
  t.c_stride = c_stride;
  t.r_stride = r_stride;
  t.ep = ep;
  t.panel_stride = b.panel_floats();
  auto at_row = [&](int r, int p) {  // tile origin: row r, first column of panel p
    t.a = a + size_t(r) * a_stride;
    t.c = c + size_t(r) * c_stride + size_t(p) * b.nr;
    t.residual = residual ? residual + size_t(r) * r_stride + size_t(p) * b.nr : nullptr;
  };
  const int wide_end = panel_end < b.wide_panels ? panel_end : b.wide_panels;
  if (m == 1 && kernel.single_row != nullptr && panel_begin < wide_end) {  // one call across the wide panels
    t.rows = 1;
    t.nr = b.nr;
    t.panel = b.panel(panel_begin);
    t.cols = (wide_end * b.nr < b.n ? wide_end * b.nr : b.n) - panel_begin * b.nr;
    at_row(0, panel_begin);
    kernel.single_row(t);
    panel_begin = wide_end;  // the narrow panel, if in range, goes below
  } else if (b.rows_fn != nullptr && panel_begin < wide_end) {  // one call per MR rows, across the wide panels
    t.nr = b.nr;
    t.panel = b.panel(panel_begin);
    t.cols = (wide_end * b.nr < b.n ? wide_end * b.nr : b.n) - panel_begin * b.nr;
    const int full = b.fewer_rows_fn != nullptr ? full_tiles_of_split(kernel, m) : -1;
    for (int r = 0, i = 0; r < m; ++i) {
      const bool fewer = full >= 0 && i >= full;
      const int mr = fewer ? kernel.fewer_rows->mr : kernel.mr;
      t.rows = m - r < mr ? m - r : mr;
      at_row(r, panel_begin);
      (fewer ? b.fewer_rows_fn : b.rows_fn)(t);
      r += mr;
    }
    panel_begin = wide_end;  // the narrow panel, if in range, goes below
  }
  if (panel_begin >= panel_end) return;
  const int block = row_block(b, m, kernel.mr);
  for (int r0 = 0; r0 < m; r0 += block) {
    const int r1 = m - r0 < block ? m : r0 + block;
    const int full = full_tiles_of_split(kernel, r1 - r0);
    const GemmKernel& wide = full >= 0 ? kernel : kernel_for_rows(kernel, r1 - r0);
    for (int p = panel_begin; p < panel_end; ++p) {
      const bool narrow = p >= b.wide_panels;
      const GemmKernel& k = narrow ? *b.tail : wide;
      t.nr = k.nr;
      t.panel = b.panel(p);
      t.cols = b.n - p * b.nr < k.nr ? b.n - p * b.nr : k.nr;
      // With a cut, `full` tiles of k.mr rows and then the fewer-rows kernel's, none padded.
      for (int r = r0, i = 0; r < r1; ++i) {
        const GemmKernel& kt = full >= 0 && !narrow && i >= full ? *k.fewer_rows : k;
        t.rows = r1 - r < kt.mr ? r1 - r : kt.mr;
        at_row(r, p);
        kt.fn(t);
        r += kt.mr;
      }
    }
  }
}

}  // namespace attocore
