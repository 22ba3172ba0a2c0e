// A depthwise convolution run a band of output rows at a time into the calling thread's
// scratch, each band handed to a consumer (the 1x1 products that read it) while it is still
// in L1/L2: the depthwise output never goes through the arena. The banding of every fused
// step that holds a depthwise layer: AttoNet's grouped 3x3 before its module tail
// (dw_pwpw.h), MobileNet's depthwise before its projection (dw_conv1x1.h) and inside its
// inverted residual block (mbconv.h).
//
// run(): the band's rows read inputs written by an earlier step, so bands need no halo; a
// thread whose pixel range starts mid-row computes that row whole (the rows are its only
// overlap with the thread before it). A caller that computes the depthwise input itself,
// band by band (mbconv.h), cuts bands at image ends and runs each from the input rows it
// holds (input_rows(), run_rows()).
#pragma once
#include <algorithm>
#include <cstddef>

#include "graph/activation_epilogue.h"
#include "kernels/dwconv/dwconv.h"

namespace attocore {

struct DwconvBands {
  DwconvKernel kernel;  // fn == nullptr: no depthwise part (the consumer reads the step input)
  DwconvShape shape;    // batch 1; run() sets the batch
  PackedDwconv weights;
  Activation act = Activation::kNone;
  int band_rows = 0;

  DwconvBands() = default;
  // oihw: [out_c, 1, kh, kw]; bias may be null. band_pixels: what one band should hold (the
  // consumer's tile); rounded up to whole rows, at most one image.
  DwconvBands(const DwconvKernel& k, const DwconvShape& s, const float* oihw, const float* bias, Activation a,
              int band_pixels)
      : kernel(k), shape(s), weights(pack_dwconv(s, k, oihw, bias)), act(a) {
    const int w = std::max(s.out_w, 1);
    band_rows = std::clamp((band_pixels + w - 1) / w, 1, std::max(s.out_h, 1));
  }
  explicit operator bool() const { return kernel.fn != nullptr; }

  // Per thread: the band, then the kernel's own scratch; each a multiple of 64 bytes, so
  // whatever the caller puts after them keeps the alignment of the scratch it passed.
  size_t band_floats() const { return kernel.fn ? round_up_16(size_t(band_rows) * shape.out_w * shape.out_c) : 0; }
  size_t scratch_floats() const { return kernel.fn ? band_floats() + round_up_16(dwconv_scratch_floats(shape, kernel)) : 0; }

  // Where the band that starts at output pixel b0 (of batch * out_h * out_w) ends: after at
  // most band_rows rows, at pixel_end, and with `within_image` at the end of b0's image.
  int band_end(int b0, int pixel_end, bool within_image) const {
    const int row0 = b0 / shape.out_w;
    int row_limit = row0 + band_rows;
    if (within_image) row_limit = std::min(row_limit, (row0 / shape.out_h + 1) * shape.out_h);
    return std::min(pixel_end, row_limit * shape.out_w);
  }

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
      const int b1 = band_end(b0, pixel_end, false);
      const int row1 = (b1 - 1) / w + 1;
      // Bands after the first continue the call before (same input, same scratch, which the
      // consumer does not touch): the fp16 kernel keeps the input rows it staged.
      kernel.fn(DwconvArgs{&s, &weights, input, band, epilogue_of(act), row0, row1, kernel_scratch, row0,
                           b0 != pixel_begin});
      consume(static_cast<const float*>(band), b0, b1, row0 * w);
      b0 = b1;
    }
  }

  // Rows [lo, hi) of the input that output rows [oy0, oy1) of an image read, clamped to the
  // image (empty when those output rows see only padding).
  void input_rows(int oy0, int oy1, int* lo, int* hi) const {
    const WindowAttrs& w = shape.window;
    *hi = std::max(0, std::min(shape.in_h, (oy1 - 1) * w.stride_h - w.pad_top + (w.kernel_h - 1) * w.dilation_h + 1));
    *lo = std::min(std::max(0, oy0 * w.stride_h - w.pad_top), *hi);
  }
  // The most input rows one band reads.
  int max_input_rows() const {
    const WindowAttrs& w = shape.window;
    return std::min(shape.in_h, (band_rows - 1) * w.stride_h + (w.kernel_h - 1) * w.dilation_h + 1);
  }
  // Output rows [oy0, oy1) of one image into `band`, from its input rows [lo, hi) (as
  // input_rows() gives them) held at `rows`: a problem of its own, whose top padding is what
  // those rows leave (pad_top + lo - oy0 * stride >= 0). kernel_scratch: the part of the
  // thread's scratch after the band (band_floats() on).
  void run_rows(const float* rows, int lo, int hi, int oy0, int oy1, float* band, float* kernel_scratch) const {
    DwconvShape sub = shape;
    sub.batch = 1;
    sub.in_h = hi - lo;
    sub.out_h = oy1 - oy0;
    sub.window.pad_top = shape.window.pad_top + lo - oy0 * shape.window.stride_h;
    kernel.fn(DwconvArgs{&sub, &weights, rows, band, epilogue_of(act), 0, oy1 - oy0, kernel_scratch});
  }

 private:
  static size_t round_up_16(size_t n) { return (n + 15) / 16 * 16; }
};

}  // namespace attocore
