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
  size_t panel_stride;  // floats from one packed panel to the next (row kernels walk several)
};

using GemmUkernel = void (*)(const GemmTile& t);

// How a kernel wants B laid out inside a panel after the NR biases:
//  kPlain: k rows of NR weights;
//  kPairs: ceil(k/2) blocks of 2*NR floats, where each group of 4 outputs stores its
//          weights for k = 2q and 2q+1 interleaved ([w(2q,j) w(2q+1,j)] for j in the group).
//          With A read as (a[2q], a[2q+1]) pairs, one broadcast then feeds 2 k-steps, which
//          doubles the work per broadcast for narrow (NR = 8) outputs.
enum class GemmPacking { kPlain, kPairs };

struct GemmKernel {
  GemmUkernel fn = nullptr;
  int mr = 0;
  int nr = 0;
  const char* name = "";
  GemmPacking packing = GemmPacking::kPlain;
  // Optional row kernels for a tiny k (a module's decompression, k = c3): one call computes
  // MR rows across every column with k unrolled at compile time, where a call per MR x NR
  // tile would spend more on entry, bias loads and epilogue than on its k FMAs. Returns
  // null when k has none. Same packing and MR as fn.
  GemmUkernel (*rows_for)(int k) = nullptr;
};

// Packed B: ceil(n / nr) panels, each NR biases then the weights in the kernel's packing.
struct PackedGemmB {
  int k = 0, n = 0, nr = 0;
  GemmPacking packing = GemmPacking::kPlain;
  GemmUkernel rows_fn = nullptr;  // the kernel's row kernel for this k, if it has one
  std::vector<float> data;
  size_t panel_floats() const {
    const int rows = packing == GemmPacking::kPairs ? (k + 1) / 2 * 2 : k;
    return size_t(nr) * (rows + 1);
  }
  const float* panel(int p) const { return data.data() + size_t(p) * panel_floats(); }
};

// w_kn(ki, ni) gives B[ki][ni]; bias may be null (zeros).
template <typename WeightAt>
PackedGemmB pack_gemm_b(int k, int n, const GemmKernel& kernel, const float* bias, WeightAt w_kn) {
  PackedGemmB b;
  const int nr = kernel.nr;
  b.k = k, b.n = n, b.nr = nr, b.packing = kernel.packing;
  b.rows_fn = kernel.rows_for ? kernel.rows_for(k) : nullptr;
  const int panels = (n + nr - 1) / nr;
  b.data.assign(size_t(panels) * b.panel_floats(), 0.f);
  for (int p = 0; p < panels; ++p) {
    float* dst = b.data.data() + size_t(p) * b.panel_floats();
    for (int j = 0; j < nr && p * nr + j < n; ++j) {
      dst[j] = bias ? bias[p * nr + j] : 0.f;
      for (int ki = 0; ki < k; ++ki) {
        size_t at;
        if (b.packing == GemmPacking::kPlain) {
          at = size_t(ki) * nr + j;
        } else {  // block q = ki / 2; group of 4 outputs j / 4; within it (j % 4, ki % 2)
          at = size_t(ki / 2) * 2 * nr + size_t(j / 4) * 8 + size_t(j % 4) * 2 + ki % 2;
        }
        dst[nr + at] = w_kn(ki, p * nr + j);
      }
    }
  }
  return b;
}

// Packed B larger than this does not stay in L2 beside its A rows: the driver then takes
// row blocks of ~192 KiB of A (instead of ~16 KiB) so each panel, fetched from L3, serves
// many row tiles.
constexpr size_t kLargeBBytes = 160 * 1024;

// Runs the whole m x n product with `kernel` (b must be packed with kernel.nr).
void gemm(const GemmKernel& kernel, int m, const float* a, size_t a_stride, const PackedGemmB& b, float* c,
          size_t c_stride, const float* residual, size_t r_stride, Activation act);

// The same for the output columns of panels [panel_begin, panel_end) only (c, residual:
// the whole matrices): lets threads split a product with few rows by columns.
void gemm_panels(const GemmKernel& kernel, int m, const float* a, size_t a_stride, const PackedGemmB& b,
                 int panel_begin, int panel_end, float* c, size_t c_stride, const float* residual, size_t r_stride,
                 Activation act);

// Portable reference microkernel, any MR x NR (the oracle for the ISA variants).
void gemm_ukernel_ref(const GemmTile& t);

}  // namespace attocore
