// AVX-512F stem: the AVX2 stem's blocks with 16 output pixels per zmm vector (the padded rows
// cover whole 16-pixel vectors, stem.h). 32 registers hold 8 channels x 3 vectors or 4
// channels x 6 (24 accumulators, the inputs and a broadcast weight): per tap kPix input
// loads and kOuts broadcasts feed kOuts x kPix FMAs. A last block of fewer channels (AttoNet
// stems have 3, 6 and 8) runs on the packing's zero weights and stores only its channels:
// few template copies (each costs seconds in the sanitizer builds) for at most 4 idle lanes.
// Also for 16, 32, ... channels: SmallResNet's 7x7 stem to 16 channels ran 45 G on the AVX2
// stem's 16-channel GEMM-shaped blocks, 72 G on these.
#include <immintrin.h>

#include "kernels/simd/clamp.h"
#include "kernels/simd/vec_avx512.h"
#include "kernels/stem/stem.h"

namespace attocore {
namespace {

// Four channel vectors (16 pixels each) to NHWC: the AVX2 stem's in-lane 4x4 transposition
// on every 128-bit lane, so lane l of u[i] holds pixel 4l + i's 4 channels; `valid` (1-4)
// of them are stored, at dst (pixel 0) + pixel * out_c.
inline void store_4_channels(const __m512 (&c)[4], int pixels, int valid, float* dst, size_t out_c) {
  const __m512 t0 = _mm512_unpacklo_ps(c[0], c[1]), t1 = _mm512_unpackhi_ps(c[0], c[1]);
  const __m512 t2 = _mm512_unpacklo_ps(c[2], c[3]), t3 = _mm512_unpackhi_ps(c[2], c[3]);
  const __m512 u[4] = {_mm512_shuffle_ps(t0, t2, 0x44), _mm512_shuffle_ps(t0, t2, 0xEE),
                       _mm512_shuffle_ps(t1, t3, 0x44), _mm512_shuffle_ps(t1, t3, 0xEE)};
  const __m128i mask = _mm_cmpgt_epi32(_mm_set1_epi32(valid), _mm_setr_epi32(0, 1, 2, 3));
  auto put = [&](float* d, __m128 v) {
    if (valid == 4) {
      _mm_storeu_ps(d, v);
    } else {
      _mm_maskstore_ps(d, mask, v);
    }
  };
  _Pragma("GCC unroll 4") for (int i = 0; i < 4; ++i) {
    if (i < pixels) put(dst + size_t(i) * out_c, _mm512_castps512_ps128(u[i]));
    if (4 + i < pixels) put(dst + size_t(4 + i) * out_c, _mm512_extractf32x4_ps(u[i], 1));
    if (8 + i < pixels) put(dst + size_t(8 + i) * out_c, _mm512_extractf32x4_ps(u[i], 2));
    if (12 + i < pixels) put(dst + size_t(12 + i) * out_c, _mm512_extractf32x4_ps(u[i], 3));
  }
}

// kOuts (4 or 8) channels from oc0 x kPix vectors of 16 pixels from ox0, of output row oy;
// `valid` of the channels exist. One flat tap loop, as in the AVX2 stem.
template <int kOuts, int kPix>
void stem_block(const StemArgs& a, const int* offsets, int taps, int oy, int ox0, int oc0, int valid) {
  const StemShape& s = *a.shape;
  const StemBlockOrigin origin = stem_block_origin(a, taps, oy, ox0, oc0);
  const float *wt = origin.weights, *bias = origin.bias, *base = origin.input;
  __m512 acc[kOuts][kPix];
  _Pragma("GCC unroll 8") for (int o = 0; o < kOuts; ++o)
    _Pragma("GCC unroll 8") for (int p = 0; p < kPix; ++p) acc[o][p] = _mm512_set1_ps(bias[o]);
  for (int t = 0; t < taps; ++t, wt += 8) {
    const float* src = base + offsets[t];
    __m512 x[kPix];
    _Pragma("GCC unroll 8") for (int p = 0; p < kPix; ++p) x[p] = _mm512_loadu_ps(src + 16 * p);
    _Pragma("GCC unroll 8") for (int o = 0; o < kOuts; ++o) {
      const __m512 wo = _mm512_set1_ps(wt[o]);
      _Pragma("GCC unroll 8") for (int p = 0; p < kPix; ++p) acc[o][p] = _mm512_fmadd_ps(x[p], wo, acc[o][p]);
    }
  }
  const VecClamp<VecAvx512> clamp(a.ep);
  _Pragma("GCC unroll 8") for (int o = 0; o < kOuts; ++o)
    _Pragma("GCC unroll 8") for (int p = 0; p < kPix; ++p) acc[o][p] = clamp(acc[o][p]);
  const int pixels = s.out_w - ox0 < kPix * 16 ? s.out_w - ox0 : kPix * 16;
  float* dst = a.output + (size_t(oy) * s.out_w + ox0) * s.out_c + oc0;
  _Pragma("GCC unroll 8") for (int p = 0; p < kPix; ++p) {
    const int left = pixels - 16 * p;
    if (left <= 0) break;
    float* d = dst + size_t(16 * p) * s.out_c;
    store_4_channels({acc[0][p], acc[1][p], acc[2][p], acc[3][p]}, left, valid < 4 ? valid : 4, d, s.out_c);
    if constexpr (kOuts == 8) {
      if (valid > 4) store_4_channels({acc[4][p], acc[5][p], acc[6][p], acc[7][p]}, left, valid - 4, d + 4, s.out_c);
    }
  }
}

// One block of channels along a whole output row: kPix vectors at a time, then the 1 to kPix
// vectors the last pixels need (the last one partial).
template <int kOuts, int kPix>
void stem_row(const StemArgs& a, const int* offsets, int taps, int oy, int oc0, int valid) {
  const int out_w = a.shape->out_w;
  int ox0 = 0;
  for (; ox0 + 16 * kPix <= out_w; ox0 += 16 * kPix) stem_block<kOuts, kPix>(a, offsets, taps, oy, ox0, oc0, valid);
  constexpr auto up_to = [](int v) { return v < kPix ? v : kPix; };  // keeps the unreachable cases compilable
  switch ((out_w - ox0 + 15) / 16) {
    case 6: stem_block<kOuts, up_to(6)>(a, offsets, taps, oy, ox0, oc0, valid); break;
    case 5: stem_block<kOuts, up_to(5)>(a, offsets, taps, oy, ox0, oc0, valid); break;
    case 4: stem_block<kOuts, up_to(4)>(a, offsets, taps, oy, ox0, oc0, valid); break;
    case 3: stem_block<kOuts, up_to(3)>(a, offsets, taps, oy, ox0, oc0, valid); break;
    case 2: stem_block<kOuts, up_to(2)>(a, offsets, taps, oy, ox0, oc0, valid); break;
    case 1: stem_block<kOuts, 1>(a, offsets, taps, oy, ox0, oc0, valid); break;
    default: break;
  }
}

}  // namespace

void stem_avx512(const StemArgs& a) {
  const std::vector<int>& offsets = a.weights->tap_offsets;
  const int taps = int(offsets.size()), out_c = a.shape->out_c;
  for (int oy = a.row_begin; oy < a.row_end; ++oy)
    for (int oc0 = 0; oc0 < out_c; oc0 += 8) {
      const int valid = out_c - oc0 < 8 ? out_c - oc0 : 8;
      if (valid > 4) {
        stem_row<8, 3>(a, offsets.data(), taps, oy, oc0, valid);
      } else {
        stem_row<4, 6>(a, offsets.data(), taps, oy, oc0, valid);
      }
    }
}

}  // namespace attocore
