#include "kernels/pool/pool_ref.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/eltwise/activation.h"

namespace attocore {

void maxpool2d_ref(int in_h, int in_w, int channels, int out_h, int out_w, const WindowAttrs& w,
                   const float* input, Activation act, float* output, int row_begin, int row_end) {
  for (int row = row_begin; row < row_end; ++row) {
    const int n = row / out_h, oy = row % out_h;
    const float* image = input + size_t(n) * in_h * in_w * channels;
    for (int ox = 0; ox < out_w; ++ox) {
      float* out = output + ((size_t(n) * out_h + oy) * out_w + ox) * channels;
      for (int c = 0; c < channels; ++c) out[c] = -std::numeric_limits<float>::infinity();
      for (int ky = 0; ky < w.kernel_h; ++ky) {
        const int iy = oy * w.stride_h - w.pad_top + ky;
        if (iy < 0 || iy >= in_h) continue;
        for (int kx = 0; kx < w.kernel_w; ++kx) {
          const int ix = ox * w.stride_w - w.pad_left + kx;
          if (ix < 0 || ix >= in_w) continue;
          const float* in = image + (size_t(iy) * in_w + ix) * channels;
          for (int c = 0; c < channels; ++c) out[c] = in[c] > out[c] ? in[c] : out[c];
        }
      }
      for (int c = 0; c < channels; ++c) out[c] = activate(act, out[c]);
    }
  }
}

void avgpool2d_ref(int in_h, int in_w, int channels, int out_h, int out_w, const WindowAttrs& w,
                   const float* input, Activation act, float* output, int row_begin, int row_end) {
  std::vector<float> sum(channels);
  for (int row = row_begin; row < row_end; ++row) {
    const int n = row / out_h, oy = row % out_h;
    const float* image = input + size_t(n) * in_h * in_w * channels;
    for (int ox = 0; ox < out_w; ++ox) {
      std::fill(sum.begin(), sum.end(), 0.f);
      int count = 0;
      for (int ky = 0; ky < w.kernel_h; ++ky) {
        const int iy = oy * w.stride_h - w.pad_top + ky;
        for (int kx = 0; kx < w.kernel_w; ++kx) {
          const int ix = ox * w.stride_w - w.pad_left + kx;
          const bool inside = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w;
          // With count_include_pad the window's part inside the padded image counts.
          const bool in_padded = iy >= -w.pad_top && iy < in_h + w.pad_bottom && ix >= -w.pad_left &&
                                 ix < in_w + w.pad_right;
          if (inside || (w.count_include_pad && in_padded)) ++count;
          if (!inside) continue;
          const float* in = image + (size_t(iy) * in_w + ix) * channels;
          for (int c = 0; c < channels; ++c) sum[c] += in[c];
        }
      }
      float* out = output + ((size_t(n) * out_h + oy) * out_w + ox) * channels;
      for (int c = 0; c < channels; ++c) out[c] = activate(act, count ? sum[c] / float(count) : 0.f);
    }
  }
}

void global_avgpool_ref(int batch, int hw, int channels, const float* input, Activation act, float* output) {
  std::vector<double> sum(channels);
  for (int n = 0; n < batch; ++n) {
    std::fill(sum.begin(), sum.end(), 0.0);
    const float* image = input + size_t(n) * hw * channels;
    for (int p = 0; p < hw; ++p)
      for (int c = 0; c < channels; ++c) sum[c] += image[size_t(p) * channels + c];
    for (int c = 0; c < channels; ++c) output[size_t(n) * channels + c] = activate(act, float(sum[c] / hw));
  }
}

}  // namespace attocore
