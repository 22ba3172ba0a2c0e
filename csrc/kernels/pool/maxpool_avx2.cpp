// AVX2 max pool: per output pixel, 8 channels per vector (a masked vector for the last
// few), the window's taps clipped to the image once per row and pixel. The reference
// kept a 3-channel stem's pixel in scalars: 3 of 8 lanes is still 3x fewer instructions.
#include <immintrin.h>

#include "kernels/pool/maxpool.h"
#include "kernels/simd/clamp.h"
#include "kernels/simd/vec_avx2.h"

namespace attocore {

void maxpool2d_avx2(int in_h, int in_w, int channels, int out_h, int out_w, const WindowAttrs& w, const float* input,
                    Epilogue ep, float* output, int row_begin, int row_end) {
  const VecClamp<VecAvx2> clamp(ep);
  const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32(channels % 8), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const size_t pixel = size_t(channels);
  maxpool_walk(in_h, in_w, channels, out_h, out_w, w, input, output, row_begin, row_end,
               [&](const float* image, int y0, int y1, int x0, int x1, float* out) {
                 for (int c0 = 0; c0 < channels; c0 += 8) {
                   const bool full = channels - c0 >= 8;
                   auto load = [&](const float* p) { return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, tail); };
                   __m256 m = load(image + (size_t(y0) * in_w + x0) * pixel + c0);
                   for (int iy = y0; iy < y1; ++iy) {
                     const float* p = image + (size_t(iy) * in_w + x0) * pixel + c0;
                     for (int ix = x0; ix < x1; ++ix, p += pixel) m = _mm256_max_ps(m, load(p));
                   }
                   m = clamp(m);
                   if (full) {
                     _mm256_storeu_ps(out + c0, m);
                   } else {
                     _mm256_maskstore_ps(out + c0, tail, m);
                   }
                 }
               });
}

}  // namespace attocore
