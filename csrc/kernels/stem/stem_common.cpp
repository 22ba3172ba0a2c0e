#include <cstring>

#include "kernels/stem/stem.h"

namespace attocore {

StemShape make_stem_shape(int in_c, int in_h, int in_w, int out_c, int out_h, int out_w, const WindowAttrs& w) {
  StemShape s;
  s.in_c = in_c, s.in_h = in_h, s.in_w = in_w;
  s.out_c = out_c, s.out_h = out_h, s.out_w = out_w;
  s.window = w;
  // Wide enough that a full 8-pixel chunk past the last output column stays inside, plus
  // one spare vector for two-register stride-2 loads.
  const int chunks = (out_w + 7) / 8;
  s.padded_w = (chunks * 8 - 1) * w.stride_w + w.kernel_w + 16;
  s.padded_h = in_h + w.pad_top + w.pad_bottom + 1;
  return s;
}

PackedStem pack_stem(const StemShape& s, const float* oihw, const float* bias) {
  PackedStem p;
  const int taps = s.in_c * s.window.kernel_h * s.window.kernel_w;
  p.blocks = (s.out_c + 7) / 8;
  p.weights.assign(size_t(p.blocks) * taps * 8, 0.f);
  p.bias.assign(size_t(p.blocks) * 8, 0.f);
  for (int oc = 0; oc < s.out_c; ++oc) {
    const int b = oc / 8, lane = oc % 8;
    p.bias[size_t(b) * 8 + lane] = bias ? bias[oc] : 0.f;
    for (int t = 0; t < taps; ++t) p.weights[(size_t(b) * taps + t) * 8 + lane] = oihw[size_t(oc) * taps + t];
  }
  return p;
}

size_t stem_padded_floats(const StemShape& s) { return size_t(s.in_c) * s.padded_h * s.padded_w; }

void stem_pad_image(const StemShape& s, const float* image, float* padded) {
  std::memset(padded, 0, sizeof(float) * stem_padded_floats(s));
  for (int c = 0; c < s.in_c; ++c)
    for (int y = 0; y < s.in_h; ++y)
      std::memcpy(padded + (size_t(c) * s.padded_h + y + s.window.pad_top) * s.padded_w + s.window.pad_left,
                  image + (size_t(c) * s.in_h + y) * s.in_w, sizeof(float) * s.in_w);
}

}  // namespace attocore
