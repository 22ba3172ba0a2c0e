#include "kernels/channels/channels_ref.h"

#include <algorithm>
#include <cstring>

namespace attocore {

void copy_channels_into(const float* x, int channels, float* y, int y_channels, int at, size_t p0, size_t p1) {
  for (size_t p = p0; p < p1; ++p)
    std::memcpy(y + p * y_channels + at, x + p * channels, size_t(channels) * sizeof(float));
}

void slice_channels(const float* x, int x_channels, int begin, int channels, float* y, size_t p0, size_t p1) {
  for (size_t p = p0; p < p1; ++p)
    std::memcpy(y + p * channels, x + p * x_channels + begin, size_t(channels) * sizeof(float));
}

void shuffle_channels(const float* x, int channels, int groups, float* y, size_t p0, size_t p1) {
  const int per_group = channels / groups;
  for (size_t p = p0; p < p1; ++p) {
    const float* src = x + p * channels;
    float* dst = y + p * channels;
    for (int g = 0; g < groups; ++g)
      for (int j = 0; j < per_group; ++j) dst[j * groups + g] = src[g * per_group + j];
  }
}

void zero_pad_rows(const float* x, int h, int w, int c, int top, int left, int bottom, int right, float* y, int r0,
                   int r1) {
  const int out_h = h + top + bottom, out_w = w + left + right;
  const size_t out_row = size_t(out_w) * c, in_row = size_t(w) * c;
  for (int r = r0; r < r1; ++r) {
    const int n = r / out_h, oy = r % out_h, iy = oy - top;
    float* dst = y + size_t(r) * out_row;
    if (iy < 0 || iy >= h) {
      std::fill(dst, dst + out_row, 0.f);
      continue;
    }
    std::fill(dst, dst + size_t(left) * c, 0.f);
    std::memcpy(dst + size_t(left) * c, x + (size_t(n) * h + iy) * in_row, in_row * sizeof(float));
    std::fill(dst + size_t(left) * c + in_row, dst + out_row, 0.f);
  }
}

}  // namespace attocore
