#include "kernels/gemm/gemm.h"

namespace attocore {

void gemm(const GemmKernel& kernel, int m, const float* a, size_t a_stride, const PackedGemmB& b, float* c,
          size_t c_stride, const float* residual, size_t r_stride, Activation act) {
  gemm_panels(kernel, m, a, a_stride, b, 0, (b.n + b.nr - 1) / b.nr, c, c_stride, residual, r_stride, act);
}

void gemm_panels(const GemmKernel& kernel, int m, const float* a, size_t a_stride, const PackedGemmB& b,
                 int panel_begin, int panel_end, float* c, size_t c_stride, const float* residual, size_t r_stride,
                 Activation act) {
  GemmTile t;
  t.k = b.k;
  t.nr = b.nr;
  t.a_stride = a_stride;
  t.c_stride = c_stride;
  t.r_stride = r_stride;
  t.act = act;
  t.panel_stride = b.panel_floats();
  if (b.rows_fn != nullptr) {  // one call per MR rows, across the panels' columns
    t.panel = b.panel(panel_begin);
    t.cols = (panel_end * b.nr < b.n ? panel_end * b.nr : b.n) - panel_begin * b.nr;
    for (int r = 0; r < m; r += kernel.mr) {
      t.rows = m - r < kernel.mr ? m - r : kernel.mr;
      t.a = a + size_t(r) * a_stride;
      t.c = c + size_t(r) * c_stride + size_t(panel_begin) * b.nr;
      t.residual = residual ? residual + size_t(r) * r_stride + size_t(panel_begin) * b.nr : nullptr;
      b.rows_fn(t);
    }
    return;
  }
  // Rows in blocks whose A slice fits in L1 (about 16 KiB); inside a block, panel-outer so
  // each packed panel (k x NR, from L2) serves every row tile of the block. A B too large
  // for L2 comes from L3 once per block, so its blocks hold ~192 KiB of A (read from L2).
  const size_t a_budget = b.data.size() * sizeof(float) > kLargeBBytes ? 196608 : 16384;
  int block = int(a_budget / (4 * size_t(b.k > 0 ? b.k : 1))) / kernel.mr * kernel.mr;
  if (block < kernel.mr) block = kernel.mr;
  for (int r0 = 0; r0 < m; r0 += block) {
    const int r1 = m - r0 < block ? m : r0 + block;
    for (int p = panel_begin; p < panel_end; ++p) {
      t.panel = b.panel(p);
      t.cols = b.n - p * b.nr < b.nr ? b.n - p * b.nr : b.nr;
      for (int r = r0; r < r1; r += kernel.mr) {
        t.rows = r1 - r < kernel.mr ? r1 - r : kernel.mr;
        t.a = a + size_t(r) * a_stride;
        t.c = c + size_t(r) * c_stride + size_t(p) * b.nr;
        t.residual = residual ? residual + size_t(r) * r_stride + size_t(p) * b.nr : nullptr;
        kernel.fn(t);
      }
    }
  }
}

}  // namespace attocore
