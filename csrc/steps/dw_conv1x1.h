// A depthwise layer and the one 1x1 convolution it feeds (MobileNet's depthwise ->
// projection), with that 1x1's residual add in the GEMM epilogue when it has one:
//
//   d   = act_d(dwconv(x))              a band of rows at a time (dwconv_bands.h)
//   out = act(d . W + b [+ r])          one GEMM per band, while the band is in L1/L2
//
// The depthwise output never reaches the arena. MobileNet-V2 via ONNX import, against the
// two steps run apart: -3% at one thread, -7% at two; bit-identical.
#pragma once
#include <cstddef>

#include "kernels/gemm/gemm.h"
#include "steps/dwconv_bands.h"

namespace attocore {

struct DwConv1x1 {
  DwconvBands dw;
  const GemmKernel* kernel = nullptr;
  PackedGemmB b;
  Activation act = Activation::kNone;
  int out_c = 0;

  DwConv1x1() = default;
  // wd: [ds.out_c, 1, kh, kw]; w: [out_c, ds.out_c]; biases may be null. band_pixels: the
  // pixels a band should hold; 0: one GEMM tile (fused_tile_rows, ~48 KiB of rows), what the
  // step uses (the tester passes less, to cut many bands).
  DwConv1x1(const DwconvKernel& dw_kernel, const DwconvShape& ds, const float* wd, const float* bd, Activation act_d,
            const GemmKernel& kernel, int out_c, const float* w, const float* b, Activation act, int band_pixels = 0);

  size_t scratch_floats() const { return dw.scratch_floats(); }  // per calling thread
  // x: the depthwise input (NHWC, `batch` images); residual: [pixels, out_c] or null; output
  // pixels [pixel_begin, pixel_end) of batch * out_h * out_w.
  void run(int batch, const float* x, const float* residual, float* out, float* scratch, int pixel_begin,
           int pixel_end) const;
};

}  // namespace attocore
