#include <arm_neon.h>

#include <cstddef>

#include "kernels/dwconv/dwconv_row.h"
#include "kernels/simd/clamp.h"
#include "kernels/simd/vec_neon.h"

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

// One chunk of 4 channels of P output pixels of one row of a 3x3, stride S, dilation 1
// window: window row ky reads q[ky] + 4c + off[j] (null q: a padding row), j over the
// columns ix0 .. ix0 + (P-1)S+2 of which the first kSkipFirst and the last kSkipLast are
// padding (zero: never loaded) and the others exist. P independent accumulators (one 9-tap
// chain would wait on the FMA latency, 4-7 cycles on Cortex-A cores), each input vector
// loaded once per window row and shared by the taps and pixels using it. kPlain: the
// chunk's 4 input channels exist and are its own (multiplier 1): one vector load each; else
// load_lanes. Every loop is unrolled, window rows included, and the column offsets come
// precomputed, so accumulators and inputs stay in registers and each load is one
// base + offset instruction: with the multiplier tested per load and the window-row loop
// rolled, GCC kept the inputs in a stack array and stored the 7 accumulators each row
// (72% of the FMA bound on the A76, OSACA N1). Each accumulator starts from its own load of
// the bias (an opaque copy of the pointer, so the loads are not merged): FMLA overwrites its
// accumulator, so a shared bias register cost a register move per pixel on the FMA pipes.
template <int S, int P, int kSkipFirst, int kSkipLast, bool kPlain>
__attribute__((always_inline)) inline void chunk_3x3(const DwconvShape& s, const float* wchunk, const float* const q[3],
                                                     const std::ptrdiff_t (&off)[(P - 1) * S + 3], int c, float* dst,
                                                     std::ptrdiff_t out_c, int count, const VecClamp<VecNeon>& clamp) {
  constexpr int kInputs = (P - 1) * S + 3;
  float32x4_t acc[P];
  _Pragma("GCC unroll 8") for (int px = 0; px < P; ++px) {
    const float* b = wchunk;
    __asm__ volatile("" : "+r"(b));
    acc[px] = vld1q_f32(b);
  }
  _Pragma("GCC unroll 3") for (int ky = 0; ky < 3; ++ky) {
    if (!q[ky]) continue;
    const float* base = q[ky] + 4 * c;
    float32x4_t x[kInputs];
    _Pragma("GCC unroll 17") for (int j = kSkipFirst; j < kInputs - kSkipLast; ++j)
      x[j] = kPlain ? vld1q_f32(base + off[j]) : load_lanes(q[ky] + off[j], c * 4, s.multiplier, s.in_c);
    _Pragma("GCC unroll 3") for (int kx = 0; kx < 3; ++kx) {
      const float32x4_t wk = vld1q_f32(wchunk + 4 + (3 * ky + kx) * 4);
      _Pragma("GCC unroll 8") for (int px = 0; px < P; ++px) {
        const int j = kx + px * S;
        if (j >= kSkipFirst && j < kInputs - kSkipLast) acc[px] = vfmaq_f32(acc[px], x[j], wk);
      }
    }
    _Pragma("GCC unroll 8") for (int px = 0; px < P; ++px) __asm__("" : "+w"(acc[px]));
  }
  const int valid = out_c - c * 4;
  float* d = dst;
  _Pragma("GCC unroll 8") for (int px = 0; px < P; ++px, d += out_c) {
    if (px < count) {
      if (kPlain) {
        vst1q_f32(d, clamp(acc[px]));
      } else {
        store_chunk(d, clamp(acc[px]), valid);
      }
    }
  }
}

// P output pixels of one row (the first `count` stored), every chunk: with multiplier 1 the
// chunks whose 4 channels all exist by plain loads, the rest (a partial last chunk, other
// multipliers) through load_lanes. Without GCC's scheduling before register allocation
// (ATTOCORE_NO_PRESCHEDULE): built for the A72/A76 it moved loads early and the allocator
// then copied an accumulator around the third window row (2-3 register moves per chunk, on
// the FMA pipes: 86-88% of the FMA bound on the A76, OSACA N1; 90% without, which is the
// ceiling there: the 7 stores' data share the FMA pipes, 63 / (63 + 7)).
template <int S, int P, int kSkipFirst, int kSkipLast>
ATTOCORE_NO_PRESCHEDULE void group_3x3(const DwconvShape& s, const PackedDwconv& p, const float* const rows[3], int ix0, float* out,
               int count, const Epilogue& ep) {
  constexpr int kInputs = (P - 1) * S + 3;
  const VecClamp<VecNeon> clamp(ep);
  const std::ptrdiff_t in_c = s.in_c, out_c = s.out_c;
  std::ptrdiff_t off[kInputs];
  _Pragma("GCC unroll 17") for (int j = 0; j < kInputs; ++j) off[j] = j * in_c;
  const float* q[3];
  _Pragma("GCC unroll 3") for (int ky = 0; ky < 3; ++ky) q[ky] = rows[ky] ? rows[ky] + ix0 * in_c : nullptr;
  const int plain = s.multiplier == 1 ? s.in_c / 4 : 0;
  const float* wchunk = p.data.data();
  const size_t step = p.chunk_floats();
  int c = 0;
  for (; c < plain; ++c, wchunk += step)
    chunk_3x3<S, P, kSkipFirst, kSkipLast, true>(s, wchunk, q, off, c, out + c * 4, out_c, count, clamp);
  for (; c < p.chunks; ++c, wchunk += step)
    chunk_3x3<S, P, kSkipFirst, kSkipLast, false>(s, wchunk, q, off, c, out + c * 4, out_c, count, clamp);
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
