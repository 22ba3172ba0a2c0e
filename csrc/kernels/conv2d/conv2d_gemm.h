// Dense convolution (groups = 1) on a GEMM microkernel, NHWC. A 1x1 stride-1 unpadded
// convolution reads its input in place as the A matrix; any other shape first gathers an
// im2col tile of pixels into per-thread scratch (zeros where the window hangs over padding).
#pragma once
#include <cstddef>

#include "kernels/conv2d/conv2d_ref.h"
#include "kernels/gemm/gemm.h"

namespace attocore {

struct Conv2dGemm {
  Conv2dShape shape;  // batch ignored; the caller passes pixel ranges
  const GemmKernel* kernel = nullptr;
  PackedGemmB b;
  bool direct = false;  // A is the input itself
  int tile = 0;         // pixels per im2col tile
  int k = 0;            // kh * kw * in_c

  Conv2dGemm() = default;
  Conv2dGemm(const Conv2dShape& s, const GemmKernel& kernel, const float* oihw, const float* bias);
  size_t scratch_floats() const { return direct ? 0 : size_t(tile) * k; }
  // Output pixels [pixel_begin, pixel_end) of the flattened batch * out_h * out_w; residual
  // (optional, [pixels, out_c] like the output) is added before the activation.
  void run(const float* input, float* output, float* scratch, Activation act, int pixel_begin, int pixel_end,
           const float* residual = nullptr) const;
};

}  // namespace attocore
