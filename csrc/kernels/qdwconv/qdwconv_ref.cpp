// The portable int8 depthwise convolution: the definition (qdwconv.h), one output at a time.
#include "kernels/qdwconv/qdwconv.h"

namespace attocore {

PackedQDwconv qdwconv_ref_pack(const DwconvShape& s, const int8_t* w_oihw, const int32_t* bias,
                               const float* multiplier, int32_t x_zero_point) {
  PackedQDwconv p;
  p.cw = 1;
  p.taps = s.window.kernel_h * s.window.kernel_w;
  p.chunks = s.out_c;
  p.x_zero_point = x_zero_point;
  p.weights.assign(w_oihw, w_oihw + size_t(s.out_c) * p.taps);
  p.bias.resize(s.out_c);
  for (int o = 0; o < s.out_c; ++o) p.bias[o] = bias ? bias[o] : 0;
  p.multiplier.assign(multiplier, multiplier + s.out_c);
  return p;
}

void qdwconv_ref(const QDwconvArgs& a) {
  const DwconvShape& s = *a.shape;
  const PackedQDwconv& p = *a.weights;
  for (int row = a.row_begin; row < a.row_end; ++row) {
    const int n = row / s.out_h, oy = row % s.out_h;
    const int8_t* image = a.input + size_t(n) * s.in_h * s.in_w * s.in_c;
    for (int ox = 0; ox < s.out_w; ++ox) {
      int8_t* out = a.output + ((size_t(row - a.output_row0) * s.out_w) + ox) * s.out_c;
      for (int o = 0; o < s.out_c; ++o) {
        const int c = o / s.multiplier;
        int32_t acc = p.bias[o];
        for_each_window_tap(s, oy, ox, [&](int iy, int ix, int t) {
          const int32_t x = image[(size_t(iy) * s.in_w + ix) * s.in_c + c];
          acc += (x - p.x_zero_point) * int32_t(p.weights[size_t(o) * p.taps + t]);
        });
        out[o] = requantize(acc, p.multiplier[o], a.ep);
      }
    }
  }
}

}  // namespace attocore
