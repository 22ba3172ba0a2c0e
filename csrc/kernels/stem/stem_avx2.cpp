#include "kernels/stem/stem_avx2.h"

#include <immintrin.h>

namespace attocore {
namespace {

// 8 output pixels' inputs: contiguous for stride 1; for stride 2 the even lanes of two
// loads, left in the shuffle's order (pixels 0 1 4 5 | 2 3 6 7) since every accumulator
// gets the same vector: the final transpose undoes it (kPixelOfLane), so the hot loop needs
// no lane-crossing permute.
template <int kStride>
inline __m256 load_pixels(const float* p) {
  if (kStride == 1) return _mm256_loadu_ps(p);
  const __m256 lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
  return _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
}

template <int kStride>
constexpr int kPixelOfLane[8] = {0, 1, 2, 3, 4, 5, 6, 7};
template <>
constexpr int kPixelOfLane<2>[8] = {0, 1, 4, 5, 2, 3, 6, 7};

// kOuts accumulators: the output channels of this block (the last block of a net with,
// say, 3 stem channels needs 3, not 8).
template <int kStride, int kOuts>
void stem_block(const StemArgs& a, int oy, int ox0, int b, const float* bias, const float* wt) {
  const StemShape& s = *a.shape;
  const WindowAttrs& w = s.window;
  __m256 acc[kOuts];
  for (int o = 0; o < kOuts; ++o) acc[o] = _mm256_set1_ps(bias[o]);
  for (int c = 0; c < s.in_c; ++c)
    for (int ky = 0; ky < w.kernel_h; ++ky) {
      const float* row = a.padded + (size_t(c) * s.padded_h + oy * w.stride_h + ky) * s.padded_w + ox0 * kStride;
      for (int kx = 0; kx < w.kernel_w; ++kx, wt += 8) {
        const __m256 x = load_pixels<kStride>(row + kx);
        for (int o = 0; o < kOuts; ++o) acc[o] = _mm256_fmadd_ps(x, _mm256_broadcast_ss(wt + o), acc[o]);
      }
    }
  const __m256 zero = _mm256_setzero_ps(), six = _mm256_set1_ps(6.f);
  alignas(32) float tile[kOuts][8];
  for (int o = 0; o < kOuts; ++o) {
    __m256 y = acc[o];
    if (a.act != Activation::kNone) y = _mm256_max_ps(y, zero);
    if (a.act == Activation::kRelu6) y = _mm256_min_ps(y, six);
    _mm256_store_ps(tile[o], y);
  }
  // Transpose the 8 pixels x kOuts channels block into NHWC.
  const int pixels = s.out_w - ox0 < 8 ? s.out_w - ox0 : 8;
  for (int lane = 0; lane < 8; ++lane) {
    const int px = kPixelOfLane<kStride>[lane];
    if (px >= pixels) continue;
    float* dst = a.output + (size_t(oy) * s.out_w + ox0 + px) * s.out_c + b * 8;
    for (int o = 0; o < kOuts; ++o) dst[o] = tile[o][lane];
  }
}

template <int kStride>
void stem_rows(const StemArgs& a) {
  const StemShape& s = *a.shape;
  const int taps = s.in_c * s.window.kernel_h * s.window.kernel_w;
  const PackedStem& p = *a.weights;
  using Block = void (*)(const StemArgs&, int, int, int, const float*, const float*);
  static constexpr Block kBlocks[9] = {nullptr,
                                       stem_block<kStride, 1>, stem_block<kStride, 2>, stem_block<kStride, 3>,
                                       stem_block<kStride, 4>, stem_block<kStride, 5>, stem_block<kStride, 6>,
                                       stem_block<kStride, 7>, stem_block<kStride, 8>};
  for (int oy = a.row_begin; oy < a.row_end; ++oy)
    for (int ox0 = 0; ox0 < s.out_w; ox0 += 8)
      for (int b = 0; b < p.blocks; ++b) {
        const int outs = s.out_c - b * 8 < 8 ? s.out_c - b * 8 : 8;
        kBlocks[outs](a, oy, ox0, b, p.bias.data() + size_t(b) * 8, p.weights.data() + size_t(b) * taps * 8);
      }
}

}  // namespace

void stem_avx2(const StemArgs& a) {
  if (a.shape->window.stride_w == 2) {
    stem_rows<2>(a);
  } else {
    stem_rows<1>(a);
  }
}

}  // namespace attocore
