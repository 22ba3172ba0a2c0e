#include "kernels/conv_transpose/conv_transpose_ref.h"

#include <algorithm>
#include <cstddef>

#include "kernels/eltwise/activation.h"

namespace attocore {

std::vector<float> pack_conv_transpose_ref(const ConvTransposeShape& s, const float* weights) {
  const WindowAttrs& w = s.window;
  const int cig = s.in_c / w.groups, cog = s.out_c / w.groups;
  std::vector<float> packed(size_t(s.in_c) * cog * w.kernel_h * w.kernel_w);
  size_t at = 0;
  for (int g = 0; g < w.groups; ++g)
    for (int ky = 0; ky < w.kernel_h; ++ky)
      for (int kx = 0; kx < w.kernel_w; ++kx)
        for (int ci = 0; ci < cig; ++ci)
          for (int co = 0; co < cog; ++co)
            packed[at++] = weights[((size_t(g * cig + ci) * cog + co) * w.kernel_h + ky) * w.kernel_w + kx];
  return packed;
}

namespace {

// The input index an output index reads through tap k, or -1: out = in * stride - pad + k * dilation.
int source(int out, int k, int stride, int pad, int dilation, int size) {
  const int t = out + pad - k * dilation;
  if (t < 0 || t % stride != 0) return -1;
  return t / stride < size ? t / stride : -1;
}

}  // namespace

void conv_transpose_ref(const ConvTransposeShape& s, const float* x, const float* packed, const float* bias,
                        Activation act, float* y, int r0, int r1) {
  const WindowAttrs& w = s.window;
  const int cig = s.in_c / w.groups, cog = s.out_c / w.groups;
  for (int r = r0; r < r1; ++r) {
    const int n = r / s.out_h, oy = r % s.out_h;
    for (int ox = 0; ox < s.out_w; ++ox) {
      float* out = y + (size_t(r) * s.out_w + ox) * s.out_c;
      for (int co = 0; co < s.out_c; ++co) out[co] = bias ? bias[co] : 0.f;
      for (int ky = 0; ky < w.kernel_h; ++ky) {
        const int iy = source(oy, ky, w.stride_h, w.pad_top, w.dilation_h, s.in_h);
        if (iy < 0) continue;
        for (int kx = 0; kx < w.kernel_w; ++kx) {
          const int ix = source(ox, kx, w.stride_w, w.pad_left, w.dilation_w, s.in_w);
          if (ix < 0) continue;
          const float* in = x + ((size_t(n) * s.in_h + iy) * s.in_w + ix) * s.in_c;
          for (int g = 0; g < w.groups; ++g) {
            const float* wt = packed + ((size_t(g) * w.kernel_h + ky) * w.kernel_w + kx) * cig * cog;
            for (int ci = 0; ci < cig; ++ci) {
              const float v = in[g * cig + ci];
              for (int co = 0; co < cog; ++co) out[g * cog + co] += v * wt[size_t(ci) * cog + co];
            }
          }
        }
      }
      for (int co = 0; co < s.out_c; ++co) out[co] = activate(act, out[co]);
    }
  }
}

}  // namespace attocore
