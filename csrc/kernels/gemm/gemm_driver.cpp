#include "kernels/gemm/gemm.h"

namespace attocore {

void gemm(const GemmKernel& kernel, int m, const float* a, size_t a_stride, const PackedGemmB& b, float* c,
          size_t c_stride, const float* residual, size_t r_stride, Activation act) {
  const int panels = (b.n + b.nr - 1) / b.nr;
  GemmTile t;
  t.k = b.k;
  t.nr = b.nr;
  t.a_stride = a_stride;
  t.c_stride = c_stride;
  t.r_stride = r_stride;
  t.act = act;
  // Panel-outer: one packed panel (k x NR) stays in L1 while the row tiles stream past it.
  for (int p = 0; p < panels; ++p) {
    t.panel = b.panel(p);
    t.cols = b.n - p * b.nr < b.nr ? b.n - p * b.nr : b.nr;
    for (int r = 0; r < m; r += kernel.mr) {
      t.rows = m - r < kernel.mr ? m - r : kernel.mr;
      t.a = a + size_t(r) * a_stride;
      t.c = c + size_t(r) * c_stride + size_t(p) * b.nr;
      t.residual = residual ? residual + size_t(r) * r_stride + size_t(p) * b.nr : nullptr;
      kernel.fn(t);
    }
  }
}

}  // namespace attocore
