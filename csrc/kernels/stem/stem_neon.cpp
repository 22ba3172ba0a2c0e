// NEON stem: the AVX2 variant's plan (stem_avx2.cpp) with 4 output pixels per vector.
// Blocks of at most 4 output channels x kPix vectors of 4 pixels; per tap, kPix input
// loads and one load of the 4 channels' weights feed 4 x kPix FMAs (by lane on aarch64).
// Replaces the im2col + GEMM path, whose per-pixel copies of 7 three-float runs cost more
// than the stem's FMAs.
#include <arm_neon.h>

#include "kernels/simd/clamp.h"
#include "kernels/simd/vec_neon.h"
#include "kernels/stem/stem.h"

namespace attocore {
namespace {

#if defined(__aarch64__)
constexpr int kWidePix = 4;  // 16 accumulators of 32 registers
#else
constexpr int kWidePix = 2;  // ARMv7: 8 accumulators of 16 q registers
#endif

// acc + x * (weight of channel kLane): w4 holds the 4 channels' weights, w points at them.
template <int kLane>
inline float32x4_t fma_channel(float32x4_t acc, float32x4_t x, float32x4_t w4, const float* w) {
#if defined(__aarch64__)
  (void)w;
  return vfmaq_laneq_f32(acc, x, w4, kLane);
#else
  (void)w4;
  return vfmaq_f32(acc, x, vdupq_n_f32(w[kLane]));
#endif
}

template <int kOuts, int kPix>
void stem_block(const StemArgs& a, const int* offsets, int taps, int oy, int ox0, int oc0) {
  const StemShape& s = *a.shape;
  const StemBlockOrigin origin = stem_block_origin(a, taps, oy, ox0, oc0);
  const float *wt = origin.weights, *bias = origin.bias, *base = origin.input;
  float32x4_t acc[kOuts][kPix];
  _Pragma("GCC unroll 4") for (int o = 0; o < kOuts; ++o)
    _Pragma("GCC unroll 4") for (int p = 0; p < kPix; ++p) acc[o][p] = vdupq_n_f32(bias[o]);
  // Two taps per iteration (each accumulator still sums the taps in order): with one, the
  // 3-channel block's 12 FMAs per iteration stayed at 86% of the FMA bound on the A76 (OSACA
  // N1: the post-indexed weight load's 7-cycle loop-carried chain against 6 cycles of FMAs).
  _Pragma("GCC unroll 2") for (int t = 0; t < taps; ++t, wt += 8) {
    const float* src = base + offsets[t];
    float32x4_t x[kPix];
    _Pragma("GCC unroll 4") for (int p = 0; p < kPix; ++p) x[p] = vld1q_f32(src + 4 * p);
    // Lanes past kOuts hold the next block's weights (or the packing's zeros): unused.
    const float32x4_t w4 = vld1q_f32(wt);
    _Pragma("GCC unroll 4") for (int p = 0; p < kPix; ++p) {
      acc[0][p] = fma_channel<0>(acc[0][p], x[p], w4, wt);
      if constexpr (kOuts > 1) acc[1][p] = fma_channel<1>(acc[1][p], x[p], w4, wt);
      if constexpr (kOuts > 2) acc[2][p] = fma_channel<2>(acc[2][p], x[p], w4, wt);
      if constexpr (kOuts > 3) acc[3][p] = fma_channel<3>(acc[3][p], x[p], w4, wt);
    }
  }
  const VecClamp<VecNeon> clamp(a.ep);
  _Pragma("GCC unroll 4") for (int o = 0; o < kOuts; ++o)
    _Pragma("GCC unroll 4") for (int p = 0; p < kPix; ++p) acc[o][p] = clamp(acc[o][p]);
  const int pixels = s.out_w - ox0 < kPix * 4 ? s.out_w - ox0 : kPix * 4;
  float* dst = a.output + (size_t(oy) * s.out_w + ox0) * s.out_c + oc0;
  if constexpr (kOuts == 4) {
    if (pixels == kPix * 4) {
      // 4 channels x 4 pixels to 4 pixels of 4 channels, in registers.
      _Pragma("GCC unroll 4") for (int p = 0; p < kPix; ++p) {
        const float32x4x2_t t01 = vtrnq_f32(acc[0][p], acc[1][p]), t23 = vtrnq_f32(acc[2][p], acc[3][p]);
        float* d = dst + size_t(4 * p) * s.out_c;
        vst1q_f32(d, vcombine_f32(vget_low_f32(t01.val[0]), vget_low_f32(t23.val[0])));
        vst1q_f32(d + s.out_c, vcombine_f32(vget_low_f32(t01.val[1]), vget_low_f32(t23.val[1])));
        vst1q_f32(d + 2 * s.out_c, vcombine_f32(vget_high_f32(t01.val[0]), vget_high_f32(t23.val[0])));
        vst1q_f32(d + 3 * s.out_c, vcombine_f32(vget_high_f32(t01.val[1]), vget_high_f32(t23.val[1])));
      }
      return;
    }
  }
  float tile[kOuts][kPix * 4];
  _Pragma("GCC unroll 4") for (int o = 0; o < kOuts; ++o)
    _Pragma("GCC unroll 4") for (int p = 0; p < kPix; ++p) vst1q_f32(tile[o] + 4 * p, acc[o][p]);
  for (int px = 0; px < pixels; ++px, dst += s.out_c)
    for (int o = 0; o < kOuts; ++o) dst[o] = tile[o][px];
}

// One block of kOuts output channels along a whole output row (stem_walk's callback).
struct Channels {
  template <int kOuts>
  static void run(const StemArgs& a, const int* offsets, int taps, int oy, int oc0) {
    const int out_w = a.shape->out_w;
    int ox0 = 0;
    for (; ox0 + 4 * kWidePix <= out_w; ox0 += 4 * kWidePix)
      stem_block<kOuts, kWidePix>(a, offsets, taps, oy, ox0, oc0);
    // The padded rows cover whole 16-pixel chunks (make_stem_shape): vectors of 4 never read past.
    for (; ox0 < out_w; ox0 += 4) stem_block<kOuts, 1>(a, offsets, taps, oy, ox0, oc0);
  }
};

}  // namespace

void stem_neon(const StemArgs& a) { stem_walk<Channels>(a); }

}  // namespace attocore
