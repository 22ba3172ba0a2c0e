#include "kernels/pool/pool_ref.h"

#include <algorithm>
#include <limits>
#include <vector>


namespace attocore {

namespace {

// kC > 0: the channel count known at compile time, so the running max stays in registers
// (a stem has 3-8 channels); kC == 0: any count, the max kept in the output row.
template <int kC>
void maxpool_rows(int in_h, int in_w, int channels, int out_h, int out_w, const WindowAttrs& w, const float* input,
                  Epilogue ep, float* output, int row_begin, int row_end) {
  const int cs = kC > 0 ? kC : channels;
  for (int row = row_begin; row < row_end; ++row) {
    const int n = row / out_h, oy = row % out_h;
    const float* image = input + size_t(n) * in_h * in_w * cs;
    // The window's rows and columns inside the image, found once per row / pixel, so the
    // inner loops carry no bounds tests (padded positions never win the max).
    const int iy0 = std::max(0, oy * w.stride_h - w.pad_top);
    const int iy1 = std::min(in_h, oy * w.stride_h - w.pad_top + w.kernel_h);
    for (int ox = 0; ox < out_w; ++ox) {
      const int ix0 = std::max(0, ox * w.stride_w - w.pad_left);
      const int ix1 = std::min(in_w, ox * w.stride_w - w.pad_left + w.kernel_w);
      float* out = output + ((size_t(n) * out_h + oy) * out_w + ox) * cs;
      const float* first = image + (size_t(iy0) * in_w + ix0) * cs;
      if (kC > 0) {
        float m[kC > 0 ? kC : 1];
        for (int c = 0; c < kC; ++c) m[c] = first[c];
        for (int iy = iy0; iy < iy1; ++iy)
          for (int ix = ix0; ix < ix1; ++ix) {
            const float* in = image + (size_t(iy) * in_w + ix) * kC;
            for (int c = 0; c < kC; ++c) m[c] = in[c] > m[c] ? in[c] : m[c];
          }
        for (int c = 0; c < kC; ++c) out[c] = ep.apply(m[c]);
      } else {
        for (int c = 0; c < cs; ++c) out[c] = first[c];
        for (int iy = iy0; iy < iy1; ++iy)
          for (int ix = ix0; ix < ix1; ++ix) {
            const float* in = image + (size_t(iy) * in_w + ix) * cs;
            for (int c = 0; c < cs; ++c) out[c] = in[c] > out[c] ? in[c] : out[c];
          }
        if (ep.clamps())
          for (int c = 0; c < cs; ++c) out[c] = ep.apply(out[c]);
      }
    }
  }
}

}  // namespace

void maxpool2d_ref(int in_h, int in_w, int channels, int out_h, int out_w, const WindowAttrs& w,
                   const float* input, Epilogue ep, float* output, int row_begin, int row_end) {
  using Rows = void (*)(int, int, int, int, int, const WindowAttrs&, const float*, Epilogue, float*, int, int);
  static constexpr Rows kSmall[9] = {maxpool_rows<0>, maxpool_rows<1>, maxpool_rows<2>, maxpool_rows<3>,
                                     maxpool_rows<4>, maxpool_rows<5>, maxpool_rows<6>, maxpool_rows<7>,
                                     maxpool_rows<8>};
  const Rows rows = channels <= 8 ? kSmall[channels] : maxpool_rows<0>;
  rows(in_h, in_w, channels, out_h, out_w, w, input, ep, output, row_begin, row_end);
}

void avgpool2d_ref(int in_h, int in_w, int channels, int out_h, int out_w, const WindowAttrs& w,
                   const float* input, Epilogue ep, float* output, int row_begin, int row_end) {
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
      for (int c = 0; c < channels; ++c) out[c] = ep.apply(count ? sum[c] / float(count) : 0.f);
    }
  }
}

void global_avgpool_ref(int batch, int hw, int channels, const float* input, Epilogue ep, float* output) {
  std::vector<double> sum(channels);
  for (int n = 0; n < batch; ++n) {
    std::fill(sum.begin(), sum.end(), 0.0);
    const float* image = input + size_t(n) * hw * channels;
    for (int p = 0; p < hw; ++p)
      for (int c = 0; c < channels; ++c) sum[c] += image[size_t(p) * channels + c];
    for (int c = 0; c < channels; ++c) output[size_t(n) * channels + c] = ep.apply(float(sum[c] / hw));
  }
}

}  // namespace attocore
