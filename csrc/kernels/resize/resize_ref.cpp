#include "kernels/resize/resize_ref.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace attocore {

void resize_nearest_rows(const float* x, int h, int w, int c, int sh, int sw, float* y, int r0, int r1) {
  const int out_h = h * sh, out_w = w * sw;
  for (int r = r0; r < r1; ++r) {
    const int n = r / out_h, iy = (r % out_h) / sh;
    const float* src = x + (size_t(n) * h + iy) * w * c;
    float* dst = y + size_t(r) * out_w * c;
    for (int ox = 0; ox < out_w; ++ox) std::memcpy(dst + size_t(ox) * c, src + size_t(ox / sw) * c, size_t(c) * 4);
  }
}

namespace {

// The two source indices and the weight of the second for output index o of a factor-s
// up-sampling of `size` samples, with half-pixel centres clamped at the edges.
struct Taps {
  int lo, hi;
  float frac;
};
Taps taps(int o, int s, int size) {
  const float src = std::max(0.f, (float(o) + 0.5f) / float(s) - 0.5f);
  const int lo = std::min(int(src), size - 1);
  return {lo, std::min(lo + 1, size - 1), src - float(lo)};
}

}  // namespace

void resize_bilinear_rows(const float* x, int h, int w, int c, int sh, int sw, float* y, int r0, int r1) {
  const int out_h = h * sh, out_w = w * sw;
  for (int r = r0; r < r1; ++r) {
    const int n = r / out_h;
    const Taps ty = taps(r % out_h, sh, h);
    const float* top = x + (size_t(n) * h + ty.lo) * w * c;
    const float* bottom = x + (size_t(n) * h + ty.hi) * w * c;
    float* dst = y + size_t(r) * out_w * c;
    for (int ox = 0; ox < out_w; ++ox) {
      const Taps tx = taps(ox, sw, w);
      const float* a = top + size_t(tx.lo) * c;
      const float* b = top + size_t(tx.hi) * c;
      const float* d = bottom + size_t(tx.lo) * c;
      const float* e = bottom + size_t(tx.hi) * c;
      for (int ch = 0; ch < c; ++ch) {
        const float upper = a[ch] + (b[ch] - a[ch]) * tx.frac;
        const float lower = d[ch] + (e[ch] - d[ch]) * tx.frac;
        dst[size_t(ox) * c + ch] = upper + (lower - upper) * ty.frac;
      }
    }
  }
}

}  // namespace attocore
