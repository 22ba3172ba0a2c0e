#include "kernels/dwconv/dwconv.h"

namespace attocore {

PackedDwconv pack_dwconv(const DwconvShape& s, int cw, const float* oihw, const float* bias) {
  PackedDwconv p;
  p.cw = cw;
  p.taps = s.window.kernel_h * s.window.kernel_w;
  p.chunks = (s.out_c + cw - 1) / cw;
  p.data.assign(size_t(p.chunks) * p.chunk_floats(), 0.f);
  p.first_input.resize(p.chunks);
  p.lane_input.resize(size_t(p.chunks) * cw);
  for (int c = 0; c < p.chunks; ++c) {
    p.first_input[c] = c * cw / s.multiplier;
    for (int j = 0; j < cw; ++j) p.lane_input[size_t(c) * cw + j] = (c * cw + j) / s.multiplier - p.first_input[c];
  }
  for (int c = 0; c < p.chunks; ++c) {
    float* dst = p.data.data() + size_t(c) * p.chunk_floats();
    for (int j = 0; j < cw && c * cw + j < s.out_c; ++j) {
      const int oc = c * cw + j;
      dst[j] = bias ? bias[oc] : 0.f;
      for (int tap = 0; tap < p.taps; ++tap) dst[cw + size_t(tap) * cw + j] = oihw[size_t(oc) * p.taps + tap];
    }
  }
  return p;
}

}  // namespace attocore
