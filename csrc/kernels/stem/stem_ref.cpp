#include "kernels/stem/stem.h"

namespace attocore {

void stem_ref(const StemArgs& a) {
  const StemShape& s = *a.shape;
  const WindowAttrs& w = s.window;
  const int taps = s.in_c * w.kernel_h * w.kernel_w;
  for (int oy = a.row_begin; oy < a.row_end; ++oy)
    for (int ox = 0; ox < s.out_w; ++ox)
      for (int oc = 0; oc < s.out_c; ++oc) {
        const int b = oc / 8, lane = oc % 8;
        float acc = a.weights->bias[size_t(b) * 8 + lane];
        const float* wt = a.weights->weights.data() + size_t(b) * taps * 8 + lane;
        for (int c = 0; c < s.in_c; ++c)
          for (int ky = 0; ky < w.kernel_h; ++ky) {
            const float* row = a.padded + (size_t(c) * s.padded_h + oy * w.stride_h + ky) * s.padded_w;
            for (int kx = 0; kx < w.kernel_w; ++kx, wt += 8) acc += *stem_column(s, row, ox * w.stride_w + kx) * *wt;
          }
        a.output[(size_t(oy) * s.out_w + ox) * s.out_c + oc] = a.ep.apply(acc);
      }
}

}  // namespace attocore
