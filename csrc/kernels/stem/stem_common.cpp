#include <cstring>
#include <vector>

#include "kernels/stem/stem.h"

namespace attocore {

StemShape make_stem_shape(int in_c, int in_h, int in_w, int out_c, int out_h, int out_w, const WindowAttrs& w) {
  StemShape s;
  s.in_c = in_c, s.in_h = in_h, s.in_w = in_w;
  s.out_c = out_c, s.out_h = out_h, s.out_w = out_w;
  s.window = w;
  // Wide enough that a full 16-pixel vector (AVX-512) past the last output column stays
  // inside, plus 16 floats of slack (an even width, so stride-2 rows split into equal halves).
  const int chunks = (out_w + 15) / 16;
  s.padded_w = (chunks * 16 - 1) * w.stride_w + w.kernel_w + 16;
  s.split = w.stride_w == 2;
  s.padded_w += s.padded_w & 1;
  s.half_w = s.padded_w / 2;
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
  const WindowAttrs& w = s.window;
  for (int c = 0; c < s.in_c; ++c)
    for (int ky = 0; ky < w.kernel_h; ++ky)
      for (int kx = 0; kx < w.kernel_w; ++kx)
        p.tap_offsets.push_back((c * s.padded_h + ky) * s.padded_w + stem_column_index(s, kx));
  return p;
}

size_t stem_padded_floats(const StemShape& s) { return size_t(s.in_c) * s.padded_h * s.padded_w; }

void stem_pad_rows(const StemShape& s, const float* image, float* padded, int row_begin, int row_end,
                   float* plain) {
  const int top = s.window.pad_top, left = s.window.pad_left;
  const size_t right = size_t(s.padded_w) - left - s.in_w;
  for (int r = row_begin; r < row_end; ++r) {
    const int c = r / s.padded_h, y = r % s.padded_h - top;
    float* row = padded + size_t(r) * s.padded_w;
    if (y < 0 || y >= s.in_h) {  // a margin row
      std::memset(row, 0, sizeof(float) * s.padded_w);
      continue;
    }
    const float* src = image + (size_t(c) * s.in_h + y) * s.in_w;
    if (s.split) {  // pad into a plain row, then deal its columns out: a loop the compiler vectorises
      std::memset(plain, 0, sizeof(float) * left);
      std::memcpy(plain + left, src, sizeof(float) * s.in_w);
      std::memset(plain + left + s.in_w, 0, sizeof(float) * right);
      float* even = row;
      float* odd = row + s.half_w;
      for (int x = 0; x < s.half_w; ++x) {
        even[x] = plain[2 * x];
        odd[x] = plain[2 * x + 1];
      }
      continue;
    }
    std::memset(row, 0, sizeof(float) * left);
    std::memcpy(row + left, src, sizeof(float) * s.in_w);
    std::memset(row + left + s.in_w, 0, sizeof(float) * right);
  }
}

}  // namespace attocore
