#include <arm_neon.h>

#include <cstddef>

#include "kernels/dwconv/dwconv_row.h"

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

inline float32x4_t clamp(float32x4_t acc, const Epilogue& ep) {
  if (ep.clamps_min()) acc = vmaxq_f32(acc, vdupq_n_f32(ep.min));
  if (ep.clamps_max()) acc = vminq_f32(acc, vdupq_n_f32(ep.max));
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

// 3x3, stride S, dilation 1, P output pixels of one row (the first `count` stored), every
// chunk, reading columns ix0 .. ix0 + (P-1)S+2 of the rows, of which the first kSkipFirst
// and the last kSkipLast are padding (zero: never loaded) and the others exist. P
// independent accumulators (one 9-tap chain would wait on the FMA latency, 4-7 cycles on
// Cortex-A cores), each input vector loaded once per window row and shared by the taps and
// pixels using it.
template <int S, int P, int kSkipFirst, int kSkipLast>
void group_3x3(const DwconvShape& s, const PackedDwconv& p, const float* const rows[3], int ix0, float* out,
               int count, const Epilogue& ep) {
  constexpr int kInputs = (P - 1) * S + 3;
  const float* wchunk = p.data.data();
  for (int c = 0; c < p.chunks; ++c, wchunk += p.chunk_floats()) {
    const float32x4_t bias = vld1q_f32(wchunk);
    float32x4_t acc[P];
    for (int px = 0; px < P; ++px) acc[px] = bias;
    for (int ky = 0; ky < 3; ++ky) {
      if (!rows[ky]) continue;
      const float* q = rows[ky] + std::ptrdiff_t(ix0) * s.in_c;
      float32x4_t x[kInputs];
      for (int j = kSkipFirst; j < kInputs - kSkipLast; ++j)
        x[j] = load_lanes(q + std::ptrdiff_t(j) * s.in_c, c * 4, s.multiplier, s.in_c);
      for (int kx = 0; kx < 3; ++kx) {
        const float32x4_t wk = vld1q_f32(wchunk + 4 + (3 * ky + kx) * 4);
        for (int px = 0; px < P; ++px) {
          const int j = kx + px * S;
          if (j >= kSkipFirst && j < kInputs - kSkipLast) acc[px] = vfmaq_f32(acc[px], x[j], wk);
        }
      }
    }
    const int valid = s.out_c - c * 4;
    float* dst = out + c * 4;
    for (int px = 0; px < P; ++px)
      if (px < count) store_chunk(dst + size_t(px) * s.out_c, clamp(acc[px], ep), valid);
  }
}

// The widest group dwconv_row.h may use (and sevens with it): aarch64's 32 vector
// registers hold 8 accumulators and a window row's 10 (stride 1) or 17 (stride 2) inputs;
// ARMv7's 16 hold the 4-pixel group's.
#if defined(__aarch64__)
constexpr int kWideGroup = 8;
#else
constexpr int kWideGroup = 4;
#endif

// group_3x3 as dwconv_row.h's group kernel.
template <int S>
struct Groups {
  const DwconvShape& s;
  const PackedDwconv& p;
  Epilogue ep;
  template <int P, int kSkipFirst, int kSkipLast>
  void run(const float* const rows[3], int ix0, float* dst, int count) const {
    group_3x3<S, P, kSkipFirst, kSkipLast>(s, p, rows, ix0, dst, count, ep);
  }
};

}  // namespace

void dwconv_neon(const DwconvArgs& a) {
  const DwconvShape& s = *a.shape;
  const PackedDwconv& p = *a.weights;
  auto groups_for = [&](auto stride) { return Groups<decltype(stride)::value>{s, p, a.ep}; };
  dwconv_rows<kWideGroup>(a, groups_for, [&](const float* image, int oy, float* out_row) {
    // Any other window: one pixel at a time.
    for (int ox = 0; ox < s.out_w; ++ox) {
      float* out = out_row + size_t(ox) * s.out_c;
      const float* wchunk = p.data.data();
      for (int c = 0; c < p.chunks; ++c, wchunk += p.chunk_floats()) {
        float32x4_t acc = vld1q_f32(wchunk);
        for_each_window_tap(s, oy, ox, [&](int iy, int ix, int tap) {
          const float* src = image + (size_t(iy) * s.in_w + ix) * s.in_c;
          const float32x4_t x = load_lanes(src, c * 4, s.multiplier, s.in_c);
          acc = vfmaq_f32(acc, x, vld1q_f32(wchunk + 4 + size_t(tap) * 4));
        });
        store_chunk(out + c * 4, clamp(acc, a.ep), s.out_c - c * 4);
      }
    }
  });
}

}  // namespace attocore
