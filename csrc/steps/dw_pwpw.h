// An AttoNet module after its compression, in one pass: the depthwise convolution (any
// channel multiplier) writes a band of output rows into the calling thread's scratch
// (dwconv_bands.h), and the fused tail (pwpw.h) consumes that band while it is still in
// L1/L2:
//
//   y   = act_dw(dwconv(x1))        a band of rows at a time, never in the arena
//   out = tail(y, x)                as Pwpw::run, next product included
//
// Run separately, the depthwise output (up to 0.8 MB per 56x56 module) went out to the
// arena and was read back by the tail, and each module cost one more step (one more
// barrier between threads). A band is about one tail tile of pixels, cut at row ends, so
// the tail's tiling (and how often it re-reads its weights) stays what it was.
//
// Without a depthwise part run() is the plain tail.
#pragma once
#include <cstddef>

#include "steps/dwconv_bands.h"
#include "steps/pwpw.h"

namespace attocore {

struct DwPwpw {
  DwconvBands dw;  // empty: no depthwise part
  Pwpw tail;

  DwPwpw() = default;
  explicit DwPwpw(Pwpw tail);  // the plain tail
  // oihw: [out_c, 1, kh, kw] depthwise weights; bias may be null.
  DwPwpw(const DwconvKernel& kernel, const DwconvShape& s, const float* oihw, const float* bias, Activation act,
         Pwpw tail);

  size_t scratch_floats() const;  // per calling thread: band and depthwise staging, tail tile
  // x1: the depthwise input (NHWC, `batch` images; the tail's x2 when there is no depthwise
  // part); x, out, next_out as Pwpw::run; pixels [pixel_begin, pixel_end) of batch * out_h * out_w.
  void run(int batch, const float* x1, const float* x, float* out, float* scratch, int pixel_begin, int pixel_end,
           float* next_out) const;
};

}  // namespace attocore
