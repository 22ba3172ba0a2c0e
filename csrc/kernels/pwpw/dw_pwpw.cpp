#include "kernels/pwpw/dw_pwpw.h"

#include <algorithm>
#include <utility>

namespace attocore {
namespace {

size_t round_up_16(size_t n) { return (n + 15) / 16 * 16; }  // keeps each scratch part 64-byte aligned

}  // namespace

DwPwpw::DwPwpw(Pwpw t) : tail(std::move(t)) {}

DwPwpw::DwPwpw(const DwconvKernel& kernel, const DwconvShape& s, const float* oihw, const float* bias, Activation act,
               Pwpw t)
    : dw(kernel), dw_shape(s), dw_act(act), tail(std::move(t)) {
  dw_weights = pack_dwconv(s, kernel.cw, oihw, bias);
  // About one tail tile of pixels per band, so the tail's tiling (and how often it re-reads
  // its weights) stays what it was; at most one image, which bounds the scratch by what the
  // arena held for this tensor before.
  band_rows = std::clamp((tail.tile + s.out_w - 1) / std::max(s.out_w, 1), 1, std::max(s.out_h, 1));
}

size_t DwPwpw::band_floats() const {
  return dw.fn ? round_up_16(size_t(band_rows) * dw_shape.out_w * dw_shape.out_c) : 0;
}

size_t DwPwpw::scratch_floats() const {
  const size_t tail_floats = round_up_16(tail.scratch_floats());
  return band_floats() + tail_floats + (dw.fn ? dwconv_scratch_floats(dw_shape) : 0);
}

void DwPwpw::run(int batch, const float* x1, const float* x, float* out, float* scratch, int pixel_begin,
                 int pixel_end, float* next_out) const {
  if (!dw.fn) {
    tail.run(x1, x, out, scratch, pixel_begin, pixel_end, next_out);
    return;
  }
  DwconvShape s = dw_shape;
  s.batch = batch;
  float* band = scratch;
  float* tail_scratch = band + band_floats();
  float* dw_scratch = tail_scratch + round_up_16(tail.scratch_floats());
  const int w = s.out_w;
  // A thread's range may start mid-row (ranges are cut at multiples of the GEMM's MR): its
  // first band then ends band_rows rows on, and the later bands start on row boundaries.
  for (int b0 = pixel_begin; b0 < pixel_end;) {
    const int row0 = b0 / w;
    const int b1 = std::min(pixel_end, (row0 + band_rows) * w);
    const int row1 = (b1 - 1) / w + 1;
    dw.fn(DwconvArgs{&s, &dw_weights, x1, band, dw_act, row0, row1, dw_scratch, row0});
    tail.run(band, x, out, tail_scratch, b0, b1, next_out, row0 * w);
    b0 = b1;
  }
}

}  // namespace attocore
