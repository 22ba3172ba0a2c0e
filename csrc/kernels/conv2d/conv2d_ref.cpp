#include "kernels/conv2d/conv2d_ref.h"

#include <vector>

#include "kernels/eltwise/activation.h"

namespace attocore {

size_t conv2d_ref_packed_size(const Conv2dShape& s) {
  const WindowAttrs& w = s.window;
  return size_t(w.kernel_h) * w.kernel_w * (s.in_c / w.groups) * s.out_c;
}

void conv2d_ref_pack(const Conv2dShape& s, const float* oihw, float* packed) {
  const WindowAttrs& w = s.window;
  const int cin_g = s.in_c / w.groups, cout_g = s.out_c / w.groups;
  for (int g = 0; g < w.groups; ++g)
    for (int ky = 0; ky < w.kernel_h; ++ky)
      for (int kx = 0; kx < w.kernel_w; ++kx)
        for (int ci = 0; ci < cin_g; ++ci)
          for (int co = 0; co < cout_g; ++co) {
            const int oc = g * cout_g + co;
            *packed++ = oihw[((size_t(oc) * cin_g + ci) * w.kernel_h + ky) * w.kernel_w + kx];
          }
}

void conv2d_ref(const Conv2dShape& s, const float* input, const float* packed, const float* bias,
                Activation act, float* output, int row_begin, int row_end) {
  const WindowAttrs& w = s.window;
  const int cin_g = s.in_c / w.groups, cout_g = s.out_c / w.groups;
  std::vector<float> acc(cout_g);
  for (int row = row_begin; row < row_end; ++row) {
    const int n = row / s.out_h, oy = row % s.out_h;
    const float* image = input + size_t(n) * s.in_h * s.in_w * s.in_c;
    for (int ox = 0; ox < s.out_w; ++ox) {
      float* out = output + ((size_t(n) * s.out_h + oy) * s.out_w + ox) * s.out_c;
      for (int g = 0; g < w.groups; ++g) {
        for (int co = 0; co < cout_g; ++co) acc[co] = bias ? bias[g * cout_g + co] : 0.f;
        for (int ky = 0; ky < w.kernel_h; ++ky) {
          const int iy = oy * w.stride_h - w.pad_top + ky * w.dilation_h;
          if (iy < 0 || iy >= s.in_h) continue;
          for (int kx = 0; kx < w.kernel_w; ++kx) {
            const int ix = ox * w.stride_w - w.pad_left + kx * w.dilation_w;
            if (ix < 0 || ix >= s.in_w) continue;
            const float* in = image + (size_t(iy) * s.in_w + ix) * s.in_c + g * cin_g;
            const float* wt = packed + ((size_t(g) * w.kernel_h + ky) * w.kernel_w + kx) * cin_g * cout_g;
            for (int ci = 0; ci < cin_g; ++ci) {
              const float v = in[ci];
              const float* wrow = wt + size_t(ci) * cout_g;
              for (int co = 0; co < cout_g; ++co) acc[co] += v * wrow[co];
            }
          }
        }
        for (int co = 0; co < cout_g; ++co) out[g * cout_g + co] = activate(act, acc[co]);
      }
    }
  }
}

}  // namespace attocore
