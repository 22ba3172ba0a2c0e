// Fused back-to-back 1x1 convolutions with the residual, AttoNet's module tail:
//
//   mid = act1(x2 . W1 + b1)                          c2 -> c3, kept in per-thread scratch
//   out = act_out(mid . W2 + b2 + shortcut)           c3 -> cout, written once
//
// shortcut is nothing, an identity tensor added in the epilogue, or a 1x1 projection
// (stride s) of the module input x folded into the second product: with
// A = [mid | x strided] and B = [W2 ; Wproj] the projection costs no extra pass and its
// output never exists.
#pragma once
#include <cstddef>

#include "graph/graph.h"
#include "kernels/gemm/gemm.h"

namespace attocore {

enum class Shortcut { kNone, kIdentity, kProjection };

struct PwpwShape {
  int c2 = 0, c3 = 0, cout = 0;
  Shortcut shortcut = Shortcut::kNone;
  // Projection source geometry (module input x, NHWC) and stride; output is out_h x out_w.
  int x_c = 0, x_h = 0, x_w = 0, stride = 1;
  int out_h = 0, out_w = 0;
};

struct Pwpw {
  PwpwShape shape;
  const GemmKernel* first_kernel = nullptr;
  const GemmKernel* second_kernel = nullptr;
  PackedGemmB first, second;
  Activation act1 = Activation::kRelu, act_out = Activation::kRelu;
  int tile = 0;
  int k2 = 0;  // c3 (+ x_c with a projection)

  Pwpw() = default;
  // w1: [c3, c2] OIHW 1x1; w2: [cout, c3]; wp: [cout, x_c] or null; biases may be null.
  Pwpw(const PwpwShape& s, const GemmKernel& first_kernel, const GemmKernel& second_kernel, const float* w1,
       const float* b1, const float* w2, const float* b2, const float* wp, const float* bp, Activation act1,
       Activation act_out);
  // Optional third product on each finished tile: next_out = next_act(out . Wn + bn), the next
  // module's 1x1 compression, computed while the tile is still in cache.
  void attach_next(const GemmKernel& kernel, int channels, const float* wn, const float* bn, Activation act);
  const GemmKernel* next_kernel = nullptr;
  PackedGemmB next;
  Activation next_act = Activation::kNone;
  int next_c = 0;

  // Tiles are equal splits of up to split_cap(tile) rows (gemm.h), rounded up to MR <= 8.
  size_t scratch_floats() const { return size_t(split_cap(tile) + 8) * k2; }
  // x2: [pixels, c2]; x: the module input (identity: [pixels, cout]; projection: NHWC x_h x x_w);
  // pixels [pixel_begin, pixel_end) of the flattened batch * out_h * out_w; next_out: [pixels,
  // next_c] when a next product is attached. x2 may hold only some rows: its first row is
  // pixel x2_first's (the fused depthwise step passes its band buffer).
  void run(const float* x2, const float* x, float* out, float* scratch, int pixel_begin, int pixel_end,
           float* next_out = nullptr, int x2_first = 0) const;
};

// The same computation written plainly (three loops, no packing): the tester's oracle.
void pwpw_reference(const PwpwShape& s, const float* w1, const float* b1, const float* w2, const float* b2,
                    const float* wp, const float* bp, Activation act1, Activation act_out, const float* x2,
                    const float* x, float* out, int pixels);

}  // namespace attocore
