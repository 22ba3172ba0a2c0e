// MobileNet-V2's inverted residual block in one pass, band by band of output rows:
//
//   e   = act_e(x . We + be)            1x1 expansion (in_c -> mid_c), only the rows the band needs
//   d   = act_d(dwconv(e))              depthwise, any window and stride
//   out = act_p(d . Wp + bp [+ r])      1x1 projection, residual add in its epilogue
//
// e (6x the block's input: 4.8 MB at 112x112x96 in MobileNet-V2) and d never reach the arena;
// each lives in the calling thread's scratch for one band. The bands are the depthwise
// layer's (dwconv_bands.h), cut at image ends. Consecutive bands of a thread share
// kh - stride rows of e: those are moved to the front of the buffer rather than computed
// again. The planner (plan/patterns/inverted_residual.cpp) takes this step only for large
// expanded tensors, where it measured faster than the split steps.
#pragma once
#include <cstddef>

#include "kernels/gemm/gemm.h"
#include "steps/dwconv_bands.h"

namespace attocore {

struct MbConvPart {  // a 1x1 convolution
  const GemmKernel* kernel = nullptr;
  PackedGemmB b;
  Activation act = Activation::kNone;
};

struct MbConv {
  int in_c = 0, mid_c = 0, out_c = 0;
  MbConvPart expand, project;
  DwconvBands dw;  // shape: batch 1, in_c = mid_c; in_h, in_w: the block input's

  MbConv() = default;
  // we: [mid_c, in_c]; wd: [dw_shape.out_c, 1, kh, kw] (dw_shape.in_c = mid_c, any
  // multiplier); wp: [out_c, dw_shape.out_c]; biases may be null.
  MbConv(int in_c, const GemmKernel& expand_kernel, const float* we, const float* be, Activation act_e,
         const DwconvKernel& dw, const DwconvShape& dw_shape, const float* wd, const float* bd, Activation act_d,
         int out_c, const GemmKernel& project_kernel, const float* wp, const float* bp, Activation act_p);

  size_t scratch_floats() const;  // per calling thread
  // x: the block input, NHWC; residual: [pixels, out_c] or null; output pixels
  // [pixel_begin, pixel_end) of batch * out_h * out_w.
  void run(const float* x, const float* residual, float* out, float* scratch, int pixel_begin, int pixel_end) const;

 private:
  size_t expanded_floats() const;  // rows of e a band reads at most, and the depthwise kernel's load slack
};

// The same computation written plainly (no packing, no bands): the tester's oracle.
void mbconv_reference(int batch, const DwconvShape& dw_shape, int in_c, int out_c, const float* we, const float* be,
                      Activation act_e, const float* wd, const float* bd, Activation act_d, const float* wp,
                      const float* bp, Activation act_p, const float* x, const float* residual, float* out);

}  // namespace attocore
