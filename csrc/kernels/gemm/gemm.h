// GEMM microkernels for 1x1 convolutions in NHWC: C[m, n] = act(A[m, k] x B[k, n] + bias[n]
// (+ residual[m, n])). B is packed once at load time into panels of NR columns, each panel
// [NR bias][k x NR weights], zero-padded past n. A microkernel computes one tile of at most
// MR rows by NR columns; a driver (gemm_driver.cpp) walks the tiles.
#pragma once
#include <cstddef>
#include <vector>

#include "graph/graph.h"

namespace attocore {

struct GemmTile {
  int rows;            // <= MR
  int cols;            // <= NR (the last panel may be narrower)
  int nr;              // the panel's packed width NR
  int k;
  const float* a;      // rows x k, row stride a_stride
  size_t a_stride;
  const float* panel;  // packed panel: NR bias, then k x NR weights
  float* c;            // rows x cols, row stride c_stride
  size_t c_stride;
  const float* residual;  // optional rows x cols added before the activation, row stride r_stride
  size_t r_stride;
  Activation act;
};

using GemmUkernel = void (*)(const GemmTile& t);

struct GemmKernel {
  GemmUkernel fn = nullptr;
  int mr = 0;
  int nr = 0;
  const char* name = "";
};

// Packed B for a given NR: ceil(n / nr) panels of (nr + k * nr) floats.
struct PackedGemmB {
  int k = 0, n = 0, nr = 0;
  std::vector<float> data;
  size_t panel_floats() const { return size_t(nr) * (k + 1); }
  const float* panel(int p) const { return data.data() + size_t(p) * panel_floats(); }
};

// w_kn(ki, ni) gives B[ki][ni]; bias may be null (zeros).
template <typename WeightAt>
PackedGemmB pack_gemm_b(int k, int n, int nr, const float* bias, WeightAt w_kn) {
  PackedGemmB b;
  b.k = k, b.n = n, b.nr = nr;
  const int panels = (n + nr - 1) / nr;
  b.data.assign(size_t(panels) * b.panel_floats(), 0.f);
  for (int p = 0; p < panels; ++p) {
    float* dst = b.data.data() + size_t(p) * b.panel_floats();
    for (int j = 0; j < nr && p * nr + j < n; ++j) {
      dst[j] = bias ? bias[p * nr + j] : 0.f;
      for (int ki = 0; ki < k; ++ki) dst[nr + size_t(ki) * nr + j] = w_kn(ki, p * nr + j);
    }
  }
  return b;
}

// Runs the whole m x n product with `kernel` (b must be packed with kernel.nr).
void gemm(const GemmKernel& kernel, int m, const float* a, size_t a_stride, const PackedGemmB& b, float* c,
          size_t c_stride, const float* residual, size_t r_stride, Activation act);

// Portable reference microkernel, any MR x NR (the oracle for the ISA variants).
void gemm_ukernel_ref(const GemmTile& t);

}  // namespace attocore
