#include "kernels/dwconv/dwconv.h"

namespace attocore {

void dwconv_ref(const DwconvArgs& a) {
  const DwconvShape& s = *a.shape;
  const PackedDwconv& p = *a.weights;
  for (int row = a.row_begin; row < a.row_end; ++row) {
    const int n = row / s.out_h, oy = row % s.out_h;
    const float* image = a.input + size_t(n) * s.in_h * s.in_w * s.in_c;
    for (int ox = 0; ox < s.out_w; ++ox) {
      float* out = a.output + (size_t(row - a.output_row0) * s.out_w + ox) * s.out_c;
      for (int oc = 0; oc < s.out_c; ++oc) {
        const float* chunk = p.data.data() + size_t(oc / p.cw) * p.chunk_floats();
        const int lane = oc % p.cw;
        float acc = chunk[lane];
        for_each_window_tap(s, oy, ox, [&](int iy, int ix, int tap) {
          const float v = image[(size_t(iy) * s.in_w + ix) * s.in_c + oc / s.multiplier];
          acc += v * chunk[p.cw + size_t(tap) * p.cw + lane];
        });
        out[oc] = a.ep.apply(acc);
      }
    }
  }
}

}  // namespace attocore
