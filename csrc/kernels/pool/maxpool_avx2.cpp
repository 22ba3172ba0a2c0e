// AVX2 max pool: per output pixel, 8 channels per vector (a masked vector for the last
// few), the window's taps clipped to the image once per row and pixel. The reference
// kept a 3-channel stem's pixel in scalars: 3 of 8 lanes is still 3x fewer instructions.
#include <immintrin.h>

#include <algorithm>

#include "kernels/pool/maxpool_avx2.h"

namespace attocore {
namespace {

inline __m256i lanes_below(int n) {  // lanes [0, n) set
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

}  // namespace

void maxpool2d_avx2(int in_h, int in_w, int channels, int out_h, int out_w, const WindowAttrs& w, const float* input,
                    Activation act, float* output, int row_begin, int row_end) {
  const __m256 zero = _mm256_setzero_ps(), six = _mm256_set1_ps(6.f);
  const __m256i tail = lanes_below(channels % 8);
  const size_t pixel = size_t(channels);
  for (int row = row_begin; row < row_end; ++row) {
    const int n = row / out_h, oy = row % out_h;
    const float* image = input + size_t(n) * in_h * in_w * pixel;
    const int iy0 = std::max(0, oy * w.stride_h - w.pad_top);
    const int iy1 = std::min(in_h, oy * w.stride_h - w.pad_top + w.kernel_h);
    float* out = output + (size_t(n) * out_h + oy) * out_w * pixel;
    for (int ox = 0; ox < out_w; ++ox, out += pixel) {
      const int ix0 = std::max(0, ox * w.stride_w - w.pad_left);
      const int ix1 = std::min(in_w, ox * w.stride_w - w.pad_left + w.kernel_w);
      for (int c0 = 0; c0 < channels; c0 += 8) {
        const bool full = channels - c0 >= 8;
        auto load = [&](const float* p) { return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, tail); };
        const float* first = image + (size_t(iy0) * in_w + ix0) * pixel + c0;
        __m256 m = load(first);
        for (int iy = iy0; iy < iy1; ++iy) {
          const float* p = image + (size_t(iy) * in_w + ix0) * pixel + c0;
          for (int ix = ix0; ix < ix1; ++ix, p += pixel) m = _mm256_max_ps(m, load(p));
        }
        if (act != Activation::kNone) m = _mm256_max_ps(m, zero);
        if (act == Activation::kRelu6) m = _mm256_min_ps(m, six);
        if (full) {
          _mm256_storeu_ps(out + c0, m);
        } else {
          _mm256_maskstore_ps(out + c0, tail, m);
        }
      }
    }
  }
}

}  // namespace attocore
