// Dense convolution (groups = 1) on a GEMM microkernel, NHWC. A 1x1 stride-1 unpadded
// convolution reads its input in place as the A matrix. Any other shape, where the kernel
// has an indirect variant (gemm.h), reads its input pixels in place through a tile of
// per-tap pointers (a zero row where the window hangs over padding); otherwise it first
// gathers an im2col tile of pixels into per-thread scratch.
#pragma once
#include <cstddef>
#include <vector>

#include "kernels/conv2d/conv2d_ref.h"
#include "kernels/gemm/gemm.h"

namespace attocore {

struct Conv2dGemm {
  Conv2dShape shape;  // batch ignored; the caller passes pixel ranges
  const GemmKernel* kernel = nullptr;
  PackedGemmB b;
  bool direct = false;    // A is the input itself
  bool indirect = false;  // the kernel's indirect variant reads the input pixels through pointers
  int tile = 0;           // pixels per im2col (or pointer) tile
  int k = 0;              // kh * kw * in_c
  // Indirect path: k-steps per block (k when unblocked). With a panel over kLargeBBytes
  // (ResNet's 3x3 at 512 channels: 576 KiB, 9 MiB of weights per layer, from L3 or memory),
  // a slice of k_block x NR weights stays in L1 while every row group of the tile uses it,
  // the partial sums waiting in the output, and the next slice is prefetched meanwhile.
  int k_block = 0;
  std::vector<size_t> tap_offsets;  // floats from a window's first input pixel to each tap's
  // Floats from one output pixel to the next: out_c, or more when the output is a channel
  // range of a wider tensor (a concat's input written in place: steps/concat_in_place).
  size_t out_stride = 0;

  Conv2dGemm() = default;
  Conv2dGemm(const Conv2dShape& s, const GemmKernel& kernel, const float* oihw, const float* bias);
  size_t scratch_floats() const;
  // Output pixels [pixel_begin, pixel_end) of the flattened batch * out_h * out_w, out_stride
  // floats apart; residual (optional, [pixels, out_c]) is added before the activation.
  void run(const float* input, float* output, float* scratch, Activation act, int pixel_begin, int pixel_end,
           const float* residual = nullptr) const;

 private:
  size_t zero_row_floats() const;
  size_t residual_copy_offset() const;
  void point_tile(const float* input, int p0, int rows, const float* zero, const float** ptrs) const;
};

}  // namespace attocore
