#include "kernels/dwconv/dwconv_neon.h"

#include <arm_neon.h>

namespace attocore {
namespace {

inline float32x4_t load_lanes(const float* in, int oc0, int k, int in_c) {
  const int c0 = oc0 / k;
  if (k == 4) return vld1q_dup_f32(in + c0);
  if (k == 1 && c0 + 4 <= in_c) return vld1q_f32(in + c0);
  if (k == 2 && c0 + 2 <= in_c) {
    const float32x2_t v = vld1_f32(in + c0);
    return vcombine_f32(vdup_lane_f32(v, 0), vdup_lane_f32(v, 1));
  }
  float lanes[4];
  for (int i = 0; i < 4; ++i) {
    const int c = (oc0 + i) / k;
    lanes[i] = c < in_c ? in[c] : 0.f;
  }
  return vld1q_f32(lanes);
}

}  // namespace

void dwconv_neon(const DwconvArgs& a) {
  const DwconvShape& s = *a.shape;
  const WindowAttrs& w = s.window;
  const PackedDwconv& p = *a.weights;
  const float32x4_t zero = vdupq_n_f32(0.f), six = vdupq_n_f32(6.f);
  for (int row = a.row_begin; row < a.row_end; ++row) {
    const int n = row / s.out_h, oy = row % s.out_h;
    const float* image = a.input + size_t(n) * s.in_h * s.in_w * s.in_c;
    for (int ox = 0; ox < s.out_w; ++ox) {
      float* out = a.output + ((size_t(n) * s.out_h + oy) * s.out_w + ox) * s.out_c;
      const float* wchunk = p.data.data();
      for (int c = 0; c < p.chunks; ++c, wchunk += p.chunk_floats()) {
        float32x4_t acc = vld1q_f32(wchunk);
        for (int ky = 0; ky < w.kernel_h; ++ky) {
          const int iy = oy * w.stride_h - w.pad_top + ky * w.dilation_h;
          if (iy < 0 || iy >= s.in_h) continue;
          for (int kx = 0; kx < w.kernel_w; ++kx) {
            const int ix = ox * w.stride_w - w.pad_left + kx * w.dilation_w;
            if (ix < 0 || ix >= s.in_w) continue;
            const float* src = image + (size_t(iy) * s.in_w + ix) * s.in_c;
            const float32x4_t x = load_lanes(src, c * 4, s.multiplier, s.in_c);
            acc = vfmaq_f32(acc, x, vld1q_f32(wchunk + 4 + size_t(ky * w.kernel_w + kx) * 4));
          }
        }
        if (a.act != Activation::kNone) acc = vmaxq_f32(acc, zero);
        if (a.act == Activation::kRelu6) acc = vminq_f32(acc, six);
        const int left = s.out_c - c * 4;
        if (left >= 4) {
          vst1q_f32(out + c * 4, acc);
        } else {
          float lanes[4];
          vst1q_f32(lanes, acc);
          for (int i = 0; i < left; ++i) out[c * 4 + i] = lanes[i];
        }
      }
    }
  }
}

}  // namespace attocore
