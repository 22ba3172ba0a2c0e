// The reference convolution (NHWC, packed weights) against a direct NCHW/OIHW evaluation
// of the definition, on shapes covering groups, multipliers, strides, padding, dilation.
#include <random>

#include "kernels/conv2d/conv2d_ref.h"
#include "kernels/eltwise/activation.h"
#include "test_harness.h"

using namespace attocore;

static void direct_conv(const Conv2dShape& s, const std::vector<float>& x_nchw, const std::vector<float>& w_oihw,
                        const std::vector<float>& bias, std::vector<float>& y_nhwc) {
  const WindowAttrs& w = s.window;
  const int cin_g = s.in_c / w.groups, cout_g = s.out_c / w.groups;
  for (int n = 0; n < s.batch; ++n)
    for (int oc = 0; oc < s.out_c; ++oc)
      for (int oy = 0; oy < s.out_h; ++oy)
        for (int ox = 0; ox < s.out_w; ++ox) {
          double acc = bias[oc];
          const int g = oc / cout_g;
          for (int ci = 0; ci < cin_g; ++ci)
            for (int ky = 0; ky < w.kernel_h; ++ky)
              for (int kx = 0; kx < w.kernel_w; ++kx) {
                int iy = oy * w.stride_h - w.pad_top + ky * w.dilation_h;
                int ix = ox * w.stride_w - w.pad_left + kx * w.dilation_w;
                if (iy < 0 || iy >= s.in_h || ix < 0 || ix >= s.in_w) continue;
                acc += double(x_nchw[((size_t(n) * s.in_c + g * cin_g + ci) * s.in_h + iy) * s.in_w + ix]) *
                       w_oihw[((size_t(oc) * cin_g + ci) * w.kernel_h + ky) * w.kernel_w + kx];
              }
          y_nhwc[((size_t(n) * s.out_h + oy) * s.out_w + ox) * s.out_c + oc] = activate(Activation::kRelu, float(acc));
        }
}

int main() {
  std::mt19937 rng(42);
  std::normal_distribution<float> normal;
  struct Case { int n, c, h, w, oc, k, stride, pad, dil, groups; };
  const Case cases[] = {
      {1, 3, 9, 7, 5, 7, 2, 3, 1, 1},    // stem-like, odd sizes
      {2, 5, 6, 5, 20, 3, 1, 1, 1, 5},   // multiplier 4
      {1, 7, 7, 9, 14, 3, 2, 1, 1, 7},   // multiplier 2, stride 2, odd
      {1, 8, 5, 5, 8, 3, 1, 1, 1, 8},    // depthwise
      {3, 17, 4, 3, 13, 1, 1, 0, 1, 1},  // 1x1, odd channels
      {1, 6, 8, 8, 4, 3, 1, 2, 2, 2},    // dilation, 2 groups
      {1, 4, 1, 1, 6, 3, 1, 1, 1, 1},    // 1x1 image
      {1, 9, 6, 7, 9, 1, 2, 0, 1, 1},    // strided 1x1 (projection)
  };
  for (const Case& c : cases) {
    Conv2dShape s;
    s.batch = c.n, s.in_c = c.c, s.in_h = c.h, s.in_w = c.w, s.out_c = c.oc;
    s.window.kernel_h = s.window.kernel_w = c.k;
    s.window.stride_h = s.window.stride_w = c.stride;
    s.window.pad_top = s.window.pad_left = s.window.pad_bottom = s.window.pad_right = c.pad;
    s.window.dilation_h = s.window.dilation_w = c.dil;
    s.window.groups = c.groups;
    s.out_h = (c.h + 2 * c.pad - c.dil * (c.k - 1) - 1) / c.stride + 1;
    s.out_w = (c.w + 2 * c.pad - c.dil * (c.k - 1) - 1) / c.stride + 1;
    std::vector<float> x(size_t(c.n) * c.c * c.h * c.w), wt(size_t(c.oc) * (c.c / c.groups) * c.k * c.k), b(c.oc);
    for (auto* v : {&x, &wt, &b})
      for (float& f : *v) f = normal(rng);
    std::vector<float> x_nhwc(x.size());
    for (int n = 0; n < c.n; ++n)
      for (int ch = 0; ch < c.c; ++ch)
        for (int p = 0; p < c.h * c.w; ++p)
          x_nhwc[(size_t(n) * c.h * c.w + p) * c.c + ch] = x[(size_t(n) * c.c + ch) * c.h * c.w + p];
    std::vector<float> packed(conv2d_ref_packed_size(s));
    conv2d_ref_pack(s, wt.data(), packed.data());
    const size_t out_n = size_t(c.n) * s.out_h * s.out_w * c.oc;
    std::vector<float> got(out_n), want(out_n);
    conv2d_ref(s, x_nhwc.data(), packed.data(), b.data(), Activation::kRelu, got.data(), 0, c.n * s.out_h);
    direct_conv(s, x, wt, b, want);
    double err = test::max_abs_diff(got.data(), want.data(), out_n);
    CHECK_MSG(err < 1e-4, "case c=%d oc=%d k=%d s=%d g=%d: max error %g", c.c, c.oc, c.k, c.stride, c.groups, err);
  }
  TEST_MAIN_END();
}
