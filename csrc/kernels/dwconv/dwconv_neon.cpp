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

inline float32x4_t activate(float32x4_t acc, Activation act) {
  if (act != Activation::kNone) acc = vmaxq_f32(acc, vdupq_n_f32(0.f));
  if (act == Activation::kRelu6) acc = vminq_f32(acc, vdupq_n_f32(6.f));
  return acc;
}

inline void store_chunk(float* dst, float32x4_t acc, int valid) {
  if (valid >= 4) {
    vst1q_f32(dst, acc);
  } else {
    float lanes[4];
    vst1q_f32(lanes, acc);
    for (int i = 0; i < valid; ++i) dst[i] = lanes[i];
  }
}

// 3x3, stride S, dilation 1, four interior output pixels [ox, ox+4) of one row, every
// chunk: four independent accumulators (a single 9-tap chain waits on the FMA latency),
// each input vector loaded once per window row and shared by the taps and pixels using it.
template <int S>
void interior_3x3(const DwconvShape& s, const PackedDwconv& p, const float* const rows[3], int ox, float* out,
                  Activation act) {
  constexpr int kInputs = 3 * S + 3;
  const int ix0 = ox * S - s.window.pad_left;
  const float* wchunk = p.data.data();
  for (int c = 0; c < p.chunks; ++c, wchunk += p.chunk_floats()) {
    const float32x4_t bias = vld1q_f32(wchunk);
    float32x4_t a0 = bias, a1 = bias, a2 = bias, a3 = bias;
    for (int ky = 0; ky < 3; ++ky) {
      if (!rows[ky]) continue;
      const float* q = rows[ky] + size_t(ix0) * s.in_c;
      float32x4_t x[kInputs];
      for (int j = 0; j < kInputs; ++j) x[j] = load_lanes(q + size_t(j) * s.in_c, c * 4, s.multiplier, s.in_c);
      for (int kx = 0; kx < 3; ++kx) {
        const float32x4_t wk = vld1q_f32(wchunk + 4 + (3 * ky + kx) * 4);
        a0 = vfmaq_f32(a0, x[kx], wk);
        a1 = vfmaq_f32(a1, x[kx + S], wk);
        a2 = vfmaq_f32(a2, x[kx + 2 * S], wk);
        a3 = vfmaq_f32(a3, x[kx + 3 * S], wk);
      }
    }
    const int valid = s.out_c - c * 4;
    float* dst = out + size_t(ox) * s.out_c + c * 4;
    store_chunk(dst, activate(a0, act), valid);
    store_chunk(dst + s.out_c, activate(a1, act), valid);
    store_chunk(dst + 2 * s.out_c, activate(a2, act), valid);
    store_chunk(dst + 3 * s.out_c, activate(a3, act), valid);
  }
}

}  // namespace

void dwconv_neon(const DwconvArgs& a) {
  const DwconvShape& s = *a.shape;
  const WindowAttrs& w = s.window;
  const PackedDwconv& p = *a.weights;
  const bool fast3x3 = w.kernel_h == 3 && w.kernel_w == 3 && w.dilation_h == 1 && w.dilation_w == 1 &&
                       w.stride_h == w.stride_w && (w.stride_w == 1 || w.stride_w == 2);
  for (int row = a.row_begin; row < a.row_end; ++row) {
    const int n = row / s.out_h, oy = row % s.out_h;
    const float* image = a.input + size_t(n) * s.in_h * s.in_w * s.in_c;
    float* out_row = a.output + (size_t(n) * s.out_h + oy) * s.out_w * s.out_c;
    // Interior groups of four pixels (every tap inside the row) take the fast path.
    int group_begin = s.out_w, group_end = s.out_w;
    const float* rows[3] = {nullptr, nullptr, nullptr};
    if (fast3x3) {
      group_begin = 0;
      while (group_begin < s.out_w && group_begin * w.stride_w - w.pad_left < 0) ++group_begin;
      group_end = group_begin;
      while (group_end + 3 < s.out_w && (group_end + 3) * w.stride_w - w.pad_left + 2 < s.in_w) group_end += 4;
      for (int ky = 0; ky < 3; ++ky) {
        const int iy = oy * w.stride_h - w.pad_top + ky;
        rows[ky] = iy >= 0 && iy < s.in_h ? image + size_t(iy) * s.in_w * s.in_c : nullptr;
      }
    }
    for (int ox = 0; ox < s.out_w; ++ox) {
      if (ox == group_begin && group_end > group_begin) {
        for (; ox < group_end; ox += 4) {
          if (w.stride_w == 1) interior_3x3<1>(s, p, rows, ox, out_row, a.act);
          else interior_3x3<2>(s, p, rows, ox, out_row, a.act);
        }
        if (ox >= s.out_w) break;
      }
      float* out = out_row + size_t(ox) * s.out_c;
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
        store_chunk(out + c * 4, activate(acc, a.act), s.out_c - c * 4);
      }
    }
  }
}

}  // namespace attocore
