#include "kernels/conv2d/conv2d_gemm.h"

#include <algorithm>
#include <cstring>

namespace attocore {

Conv2dGemm::Conv2dGemm(const Conv2dShape& s, const GemmKernel& kern, const float* oihw, const float* bias)
    : shape(s), kernel(&kern) {
  const WindowAttrs& w = s.window;
  const int kh = w.kernel_h, kw = w.kernel_w, cin = s.in_c;
  k = kh * kw * cin;
  direct = kh == 1 && kw == 1 && w.stride_h == 1 && w.stride_w == 1 && w.pad_top == 0 && w.pad_left == 0 &&
           w.pad_bottom == 0 && w.pad_right == 0;
  // Keep an im2col tile within ~32 KiB so it stays in L1/L2 beside the weight panel.
  tile = std::max(kern.mr, std::min(64, int(32768 / (4 * std::max(k, 1))) / kern.mr * kern.mr));
  b = pack_gemm_b(k, s.out_c, kern, bias, [&](int ki, int oc) {
    const int ci = ki % cin, tap = ki / cin, ky = tap / kw, kx = tap % kw;
    return oihw[((size_t(oc) * cin + ci) * kh + ky) * kw + kx];
  });
}

void Conv2dGemm::run(const float* input, float* output, float* scratch, Activation act, int pixel_begin,
                     int pixel_end, const float* residual) const {
  const Conv2dShape& s = shape;
  auto residual_at = [&](int pixel) { return residual ? residual + size_t(pixel) * s.out_c : nullptr; };
  if (direct) {
    gemm(*kernel, pixel_end - pixel_begin, input + size_t(pixel_begin) * s.in_c, s.in_c, b,
         output + size_t(pixel_begin) * s.out_c, s.out_c, residual_at(pixel_begin), s.out_c, act);
    return;
  }
  const WindowAttrs& w = s.window;
  const int per_image = s.out_h * s.out_w;
  for (int p0 = pixel_begin; p0 < pixel_end; p0 += tile) {
    const int rows = std::min(tile, pixel_end - p0);
    for (int r = 0; r < rows; ++r) {
      const int pixel = p0 + r, n = pixel / per_image, oy = (pixel % per_image) / s.out_w, ox = pixel % s.out_w;
      const float* image = input + size_t(n) * s.in_h * s.in_w * s.in_c;
      float* dst = scratch + size_t(r) * k;
      // Per kernel row, the taps that land inside the image are one contiguous run of
      // pixels when the dilation is 1: copy it at once, zero the rest.
      for (int ky = 0; ky < w.kernel_h; ++ky, dst += size_t(w.kernel_w) * s.in_c) {
        const int iy = oy * w.stride_h - w.pad_top + ky * w.dilation_h;
        if (iy < 0 || iy >= s.in_h) {
          std::memset(dst, 0, sizeof(float) * w.kernel_w * s.in_c);
          continue;
        }
        const int ix0 = ox * w.stride_w - w.pad_left;
        int kx0 = 0, kx1 = w.kernel_w;
        while (kx0 < kx1 && ix0 + kx0 * w.dilation_w < 0) ++kx0;
        while (kx1 > kx0 && ix0 + (kx1 - 1) * w.dilation_w >= s.in_w) --kx1;
        std::memset(dst, 0, sizeof(float) * kx0 * s.in_c);
        std::memset(dst + size_t(kx1) * s.in_c, 0, sizeof(float) * (w.kernel_w - kx1) * s.in_c);
        const float* src_row = image + size_t(iy) * s.in_w * s.in_c;
        if (kx1 <= kx0) continue;
        if (w.dilation_w == 1) {
          std::memcpy(dst + size_t(kx0) * s.in_c, src_row + size_t(ix0 + kx0) * s.in_c,
                      sizeof(float) * (kx1 - kx0) * s.in_c);
        } else {
          for (int kx = kx0; kx < kx1; ++kx)
            std::memcpy(dst + size_t(kx) * s.in_c, src_row + size_t(ix0 + kx * w.dilation_w) * s.in_c,
                        sizeof(float) * s.in_c);
        }
      }
    }
    gemm(*kernel, rows, scratch, k, b, output + size_t(p0) * s.out_c, s.out_c, residual_at(p0), s.out_c, act);
  }
}

}  // namespace attocore
