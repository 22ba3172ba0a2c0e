// The fp16 GEMM kernels (gemm_neonfp16.inc), compiled with -march=armv8.2-a+fp16 and run only
// where cpu_features() reports FEAT_FP16 (HWCAP_ASIMDHP).
//
// Per output: s = 0 (fp16); for k in order s = fma16(s, half(a[k]), w[k]) (a rounded to
// binary16 as it is loaded, w packed as binary16, each FMA rounded once to binary16); then in
// fp32: y = clamp(float(s) + bias (+ residual)). The fp32 activations in the arena are
// converted at the kernel's boundary: each A row's block of 8 k-values once per tile (2
// loads, 2 narrowing converts, feeding 8 x NV lane FMAs), the sums widened once at the store.
// Which of the two kernels computes a column never changes its bits (same operations, same
// order).
#include "kernels/gemm/gemm_neonfp16.h"

#include <arm_neon.h>

namespace attocore {
namespace {

// The 8-lane FMA by lane L of x for every accumulator.
template <int MR, int NV, int L>
__attribute__((always_inline)) inline void fma_step(float16x8_t (&acc)[MR][NV], const float16x8_t (&x)[MR],
                                                    const float16_t* w) {
  float16x8_t b[NV];
  _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) b[v] = vld1q_f16(w + 8 * v);
  _Pragma("GCC unroll 8") for (int r = 0; r < MR; ++r)
    _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) acc[r][v] = vfmaq_laneq_f16(acc[r][v], b[v], x[r], L);
}

template <int MR, int NV>
void tile_f16(const GemmTile& t) {
  constexpr int NR = 8 * NV;
  float16x8_t acc[MR][NV];
  _Pragma("GCC unroll 8") for (int r = 0; r < MR; ++r)
    _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) acc[r][v] = vdupq_n_f16(0);
  const float* a[MR];
  _Pragma("GCC unroll 8") for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.a_stride;
  const float16_t* w = reinterpret_cast<const float16_t*>(t.panel + NR);  // after the NR fp32 biases
  const int k = t.k;
  int ki = 0;
  for (; ki + 8 <= k; ki += 8, w += 8 * NR) {
    float16x8_t x[MR];
    _Pragma("GCC unroll 8") for (int r = 0; r < MR; ++r)
      x[r] = vcombine_f16(vcvt_f16_f32(vld1q_f32(a[r] + ki)), vcvt_f16_f32(vld1q_f32(a[r] + ki + 4)));
    fma_step<MR, NV, 0>(acc, x, w);
    fma_step<MR, NV, 1>(acc, x, w + NR);
    fma_step<MR, NV, 2>(acc, x, w + 2 * NR);
    fma_step<MR, NV, 3>(acc, x, w + 3 * NR);
    fma_step<MR, NV, 4>(acc, x, w + 4 * NR);
    fma_step<MR, NV, 5>(acc, x, w + 5 * NR);
    fma_step<MR, NV, 6>(acc, x, w + 6 * NR);
    fma_step<MR, NV, 7>(acc, x, w + 7 * NR);
  }
  for (; ki < k; ++ki, w += NR) {
    float16x8_t b[NV];
    _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) b[v] = vld1q_f16(w + 8 * v);
    _Pragma("GCC unroll 8") for (int r = 0; r < MR; ++r) {
      const float16x8_t x = vdupq_n_f16(float16_t(a[r][ki]));
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) acc[r][v] = vfmaq_f16(acc[r][v], x, b[v]);
    }
  }
  // The epilogue in fp32: widen, bias, residual, clamp (a max and a min only for bounds that
  // clamp, as the fp32 kernels).
  const float* bias = t.panel;
  const float32x4_t lo = vdupq_n_f32(t.ep.min), hi = vdupq_n_f32(t.ep.max);
  const bool clamp_lo = t.ep.clamps_min(), clamp_hi = t.ep.clamps_max();
  _Pragma("GCC unroll 8") for (int r = 0; r < MR; ++r) {
    if (r >= t.rows) break;
    float* c = t.c + size_t(r) * t.c_stride;
    const float* res = t.residual ? t.residual + size_t(r) * t.r_stride : nullptr;
    _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) {
      float32x4_t y[2] = {vaddq_f32(vcvt_f32_f16(vget_low_f16(acc[r][v])), vld1q_f32(bias + 8 * v)),
                          vaddq_f32(vcvt_high_f32_f16(acc[r][v]), vld1q_f32(bias + 8 * v + 4))};
      _Pragma("GCC unroll 2") for (int h = 0; h < 2; ++h) {
        const int col = 8 * v + 4 * h, left = t.cols - col;
        if (left <= 0) break;
        if (left >= 4) {
          if (res) y[h] = vaddq_f32(y[h], vld1q_f32(res + col));
          if (clamp_lo) y[h] = vmaxq_f32(y[h], lo);
          if (clamp_hi) y[h] = vminq_f32(y[h], hi);
          vst1q_f32(c + col, y[h]);
        } else {  // the last columns of a partial panel
          float out[4];
          vst1q_f32(out, y[h]);
          for (int j = 0; j < left; ++j) c[col + j] = t.ep.apply(out[j] + (res ? res[col + j] : 0.f));
        }
      }
    }
  }
}

}  // namespace

void gemm_8x8_neonfp16(const GemmTile& t) { tile_f16<8, 1>(t); }
void gemm_8x16_neonfp16(const GemmTile& t) { tile_f16<8, 2>(t); }

}  // namespace attocore
