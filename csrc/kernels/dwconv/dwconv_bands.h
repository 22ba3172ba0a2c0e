// A depthwise convolution run a band of output rows at a time into the calling thread's
// scratch, each band handed to a consumer (the 1x1 products that read it) while it is still
// in L1/L2: the depthwise output never goes through the arena. Used by the fused steps
// that start with a depthwise layer (AttoNet's grouped 3x3 before its module tail:
// pwpw/dw_pwpw.h; MobileNet's depthwise before its projection: exec/layers.cpp).
//
// The band's rows read inputs written by an earlier step, so bands need no halo; a thread
// whose pixel range starts mid-row computes that row whole (the rows are its only overlap
// with the thread before it).
#pragma once
#include <algorithm>
#include <cstddef>

#include "kernels/dwconv/dwconv.h"

namespace attocore {

struct DwconvBands {
  DwconvKernel kernel;  // fn == nullptr: no depthwise part (the consumer reads the step input)
  DwconvShape shape;    // batch 1; run() sets the batch
  PackedDwconv weights;
  Epilogue ep;
  int band_rows = 0;

  DwconvBands() = default;
  // oihw: [out_c, 1, kh, kw]; bias may be null. band_pixels: what one band should hold (the
  // consumer's tile); rounded up to whole rows, at most one image.
  DwconvBands(const DwconvKernel& k, const DwconvShape& s, const float* oihw, const float* bias, Epilogue e,
              int band_pixels)
      : kernel(k), shape(s), weights(pack_dwconv(s, k.cw, oihw, bias)), ep(e) {
    const int w = std::max(s.out_w, 1);
    band_rows = std::clamp((band_pixels + w - 1) / w, 1, std::max(s.out_h, 1));
  }
  explicit operator bool() const { return kernel.fn != nullptr; }

  // Per thread: the band, then the kernel's own scratch; each a multiple of 64 bytes, so
  // whatever the caller puts after them keeps the alignment of the scratch it passed.
  size_t band_floats() const { return kernel.fn ? round_up_16(size_t(band_rows) * shape.out_w * shape.out_c) : 0; }
  size_t scratch_floats() const { return kernel.fn ? band_floats() + round_up_16(dwconv_scratch_floats(shape)) : 0; }

  // Output pixels [pixel_begin, pixel_end) of batch * out_h * out_w, band by band:
  // consume(band, b0, b1, first) with the band's rows starting at pixel `first` (<= b0).
  template <typename Consume>
  void run(int batch, const float* input, float* scratch, int pixel_begin, int pixel_end, const Consume& consume) const {
    DwconvShape s = shape;
    s.batch = batch;
    float* band = scratch;
    float* kernel_scratch = scratch + band_floats();
    const int w = s.out_w;
    for (int b0 = pixel_begin; b0 < pixel_end;) {
      const int row0 = b0 / w;
      const int b1 = std::min(pixel_end, (row0 + band_rows) * w);
      const int row1 = (b1 - 1) / w + 1;
      kernel.fn(DwconvArgs{&s, &weights, input, band, ep, row0, row1, kernel_scratch, row0});
      consume(static_cast<const float*>(band), b0, b1, row0 * w);
      b0 = b1;
    }
  }

 private:
  static size_t round_up_16(size_t n) { return (n + 15) / 16 * 16; }
};

}  // namespace attocore
