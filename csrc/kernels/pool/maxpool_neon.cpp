// NEON max pool: per output pixel, 4 channels per vector, scalars for the last 1-3; the
// window's taps clipped to the image once per row and pixel.
#include <arm_neon.h>

#include <algorithm>

#include "kernels/pool/maxpool.h"
#include "kernels/simd/clamp.h"
#include "kernels/simd/vec_neon.h"

namespace attocore {

void maxpool2d_neon(int in_h, int in_w, int channels, int out_h, int out_w, const WindowAttrs& w, const float* input,
                    Epilogue ep, float* output, int row_begin, int row_end) {
  const VecClamp<VecNeon> clamp(ep);
  const size_t pixel = size_t(channels);
  const int vec_end = channels / 4 * 4;
  maxpool_walk(in_h, in_w, channels, out_h, out_w, w, input, output, row_begin, row_end,
               [&](const float* image, int y0, int y1, int x0, int x1, float* out) {
                 const float* first = image + (size_t(y0) * in_w + x0) * pixel;
                 for (int c0 = 0; c0 < vec_end; c0 += 4) {
                   float32x4_t m = vld1q_f32(first + c0);
                   for (int iy = y0; iy < y1; ++iy) {
                     const float* p = image + (size_t(iy) * in_w + x0) * pixel + c0;
                     for (int ix = x0; ix < x1; ++ix, p += pixel) m = vmaxq_f32(m, vld1q_f32(p));
                   }
                   m = clamp(m);
                   vst1q_f32(out + c0, m);
                 }
                 for (int c = vec_end; c < channels; ++c) {
                   float m = first[c];
                   for (int iy = y0; iy < y1; ++iy)
                     for (int ix = x0; ix < x1; ++ix) m = std::max(m, image[(size_t(iy) * in_w + ix) * pixel + c]);
                   out[c] = ep.apply(m);
                 }
               });
}

}  // namespace attocore
