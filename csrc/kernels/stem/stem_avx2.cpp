#include <immintrin.h>

#include <vector>

#include "kernels/simd/clamp.h"
#include "kernels/simd/vec_avx2.h"
#include "kernels/stem/stem.h"

namespace attocore {
namespace {

// Blocks of at most 4 output channels x kPix vectors of 8 output pixels (3 x 3 or 4 x 2):
// accumulators, input vectors and a broadcast weight all in registers, and each tap costs
// kPix + kOuts loads for kOuts x kPix FMAs (FMA-bound; one block of 8 channels x 8 pixels
// was load-bound on the broadcasts). Inputs are 8 contiguous floats for any
// tap: with stride 2 the padded rows are stored split into even and odd columns.
// One flat tap loop over PackedStem::tap_offsets: GCC kept the accumulators of nested
// channel/ky/kx loops on the stack, storing them after every FMA.
template <int kOuts, int kPix>
void stem_block(const StemArgs& a, const int* offsets, int taps, int oy, int ox0, int oc0) {
  const StemShape& s = *a.shape;
  const StemBlockOrigin origin = stem_block_origin(a, taps, oy, ox0, oc0);
  const float *wt = origin.weights, *bias = origin.bias, *base = origin.input;
  __m256 acc[kOuts][kPix];
  #pragma GCC unroll 4
  for (int o = 0; o < kOuts; ++o)
    #pragma GCC unroll 4
    for (int p = 0; p < kPix; ++p) acc[o][p] = _mm256_set1_ps(bias[o]);
  for (int t = 0; t < taps; ++t, wt += 8) {
    const float* src = base + offsets[t];
    __m256 x[kPix];
    #pragma GCC unroll 4
    for (int p = 0; p < kPix; ++p) x[p] = _mm256_loadu_ps(src + 8 * p);
    #pragma GCC unroll 4
    for (int o = 0; o < kOuts; ++o) {
      const __m256 wo = _mm256_broadcast_ss(wt + o);
      #pragma GCC unroll 4
      for (int p = 0; p < kPix; ++p) acc[o][p] = _mm256_fmadd_ps(x[p], wo, acc[o][p]);
    }
  }
  const VecClamp<VecAvx2> clamp(a.ep);
  #pragma GCC unroll 4
  for (int o = 0; o < kOuts; ++o)
    #pragma GCC unroll 4
    for (int p = 0; p < kPix; ++p) acc[o][p] = clamp(acc[o][p]);
  // Transpose the channels x pixels block into NHWC.
  const int pixels = s.out_w - ox0 < kPix * 8 ? s.out_w - ox0 : kPix * 8;
  float* dst = a.output + (size_t(oy) * s.out_w + ox0) * s.out_c + oc0;
  if constexpr (kOuts == 4) {
    if (pixels == kPix * 8) {
      // 4 channels x 8 pixels in registers to 8 pixels of 4 channels: 8 shuffles and 8
      // 16-byte stores instead of 32 scalar ones.
      #pragma GCC unroll 4
      for (int p = 0; p < kPix; ++p) {
        const __m256 t0 = _mm256_unpacklo_ps(acc[0][p], acc[1][p]), t1 = _mm256_unpackhi_ps(acc[0][p], acc[1][p]);
        const __m256 t2 = _mm256_unpacklo_ps(acc[2][p], acc[3][p]), t3 = _mm256_unpackhi_ps(acc[2][p], acc[3][p]);
        // u[i] holds pixel i in its low half and pixel i + 4 in its high half.
        const __m256 u[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE),
                             _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xEE)};
        float* d = dst + size_t(8 * p) * s.out_c;
        #pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) {
          _mm_storeu_ps(d + size_t(i) * s.out_c, _mm256_castps256_ps128(u[i]));
          _mm_storeu_ps(d + size_t(i + 4) * s.out_c, _mm256_extractf128_ps(u[i], 1));
        }
      }
      return;
    }
  }
  alignas(32) float tile[kOuts][kPix * 8];
  #pragma GCC unroll 4
  for (int o = 0; o < kOuts; ++o)
    #pragma GCC unroll 4
    for (int p = 0; p < kPix; ++p) _mm256_store_ps(tile[o] + 8 * p, acc[o][p]);
  for (int px = 0; px < pixels; ++px, dst += s.out_c)
    #pragma GCC unroll 4
    for (int o = 0; o < kOuts; ++o) dst[o] = tile[o][px];
}

// One block of kOuts output channels along a whole output row (stem_walk's callback).
struct Channels {
  template <int kOuts>
  static void run(const StemArgs& a, const int* offsets, int taps, int oy, int oc0) {
    // 4 channels x 3 vectors plus inputs and a weight would take all 16 registers: 4
    // channels go 2 vectors wide.
    constexpr int kPix = kOuts == 4 ? 2 : 3;
    const int out_w = a.shape->out_w;
    int ox0 = 0;
    for (; ox0 + 8 * kPix <= out_w; ox0 += 8 * kPix) stem_block<kOuts, kPix>(a, offsets, taps, oy, ox0, oc0);
    // Up to 8 * kPix - 1 pixels are left (23 with 3 vectors: before, 17-23 got a 2-vector
    // block and their last pixels were never written); the padded rows cover whole vectors.
    const int rest = out_w - ox0;
    if constexpr (kPix == 3) {
      if (rest > 16) {
        stem_block<kOuts, 3>(a, offsets, taps, oy, ox0, oc0);
        return;
      }
    }
    if (rest > 8) stem_block<kOuts, 2>(a, offsets, taps, oy, ox0, oc0);
    else if (rest > 0) stem_block<kOuts, 1>(a, offsets, taps, oy, ox0, oc0);
  }
};

// P output pixels x 16 output channels (packed blocks b0, b0 + 1): the stem as a GEMM tile
// with the taps as k, its A column gathered by tap_offsets (one broadcast per pixel and tap)
// and 12 accumulators as in gemm_6x16. For 16 channels and more: measured 39-45 G
// multiply-adds/s where the 4-channel blocks above reached 33-42 (MobileNet-V2's 3x3 stem to
// 32 channels: 33 -> 39), with no transposition before the stores. Per output the same
// operations in the same order (bias, taps in order, activation): the same bits.
template <int P>
void wide_block(const StemArgs& a, const int* offsets, int taps, int oy, int ox0, int b0) {
  const StemShape& s = *a.shape;
  const float* w0 = a.weights->weights.data() + size_t(b0) * taps * 8;
  const float* w1 = w0 + size_t(taps) * 8;
  const float* bias = a.weights->bias.data() + size_t(b0) * 8;
  const float* base = a.padded + size_t(oy) * s.window.stride_h * s.padded_w + ox0;
  __m256 acc[P][2];
  const __m256 bias0 = _mm256_loadu_ps(bias), bias1 = _mm256_loadu_ps(bias + 8);
  _Pragma("GCC unroll 8") for (int p = 0; p < P; ++p) acc[p][0] = bias0, acc[p][1] = bias1;
  for (int t = 0; t < taps; ++t) {
    const __m256 wa = _mm256_loadu_ps(w0 + 8 * t), wb = _mm256_loadu_ps(w1 + 8 * t);
    const float* src = base + offsets[t];
    _Pragma("GCC unroll 8") for (int p = 0; p < P; ++p) {
      const __m256 x = _mm256_broadcast_ss(src + p);  // output pixel ox steps one float: stem.h
      acc[p][0] = _mm256_fmadd_ps(x, wa, acc[p][0]);
      acc[p][1] = _mm256_fmadd_ps(x, wb, acc[p][1]);
    }
  }
  const VecClamp<VecAvx2> clamp(a.ep);
  float* dst = a.output + (size_t(oy) * s.out_w + ox0) * s.out_c + size_t(b0) * 8;
  _Pragma("GCC unroll 8") for (int p = 0; p < P; ++p) {
    _Pragma("GCC unroll 2") for (int v = 0; v < 2; ++v) {
      _mm256_storeu_ps(dst + size_t(p) * s.out_c + 8 * v, clamp(acc[p][v]));
    }
  }
}

void wide_walk(const StemArgs& a) {
  const std::vector<int>& offsets = a.weights->tap_offsets;
  const int taps = int(offsets.size()), out_w = a.shape->out_w;
  for (int oy = a.row_begin; oy < a.row_end; ++oy)
    for (int b0 = 0; b0 < a.shape->out_c / 8; b0 += 2) {
      int ox = 0;
      for (; ox + 6 <= out_w; ox += 6) wide_block<6>(a, offsets.data(), taps, oy, ox, b0);
      switch (out_w - ox) {
        case 5: wide_block<5>(a, offsets.data(), taps, oy, ox, b0); break;
        case 4: wide_block<4>(a, offsets.data(), taps, oy, ox, b0); break;
        case 3: wide_block<3>(a, offsets.data(), taps, oy, ox, b0); break;
        case 2: wide_block<2>(a, offsets.data(), taps, oy, ox, b0); break;
        case 1: wide_block<1>(a, offsets.data(), taps, oy, ox, b0); break;
        default: break;
      }
    }
}

}  // namespace

void stem_avx2(const StemArgs& a) {
  if (a.shape->out_c % 16 == 0) {
    wide_walk(a);
  } else {
    stem_walk<Channels>(a);
  }
}

}  // namespace attocore
