#include "kernels/gemm/gemm.h"
#include "kernels/gemm/gemm_ref.h"

namespace attocore {

void gemm_ukernel_ref(const GemmTile& t) {
  const float* bias = t.panel;
  const float* w = t.panel + t.nr;
  for (int r = 0; r < t.rows; ++r) {
    const float* a = t.a + size_t(r) * t.a_stride;
    for (int j = 0; j < t.cols; ++j) {
      float acc = bias[j];
      for (int ki = 0; ki < t.k; ++ki) acc += a[ki] * w[size_t(ki) * t.nr + j];
      if (t.residual) acc += t.residual[size_t(r) * t.r_stride + j];
      t.c[size_t(r) * t.c_stride + j] = t.ep.apply(acc);
    }
  }
}

void gemm_4x8_ref(const GemmTile& t) { gemm_ukernel_ref(t); }
void gemm_4x16_ref(const GemmTile& t) { gemm_ukernel_ref(t); }

}  // namespace attocore
