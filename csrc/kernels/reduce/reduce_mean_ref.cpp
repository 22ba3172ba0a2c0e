#include "kernels/reduce/reduce_mean_ref.h"

#include <algorithm>

namespace attocore {

void reduce_mean_images(const float* x, const int64_t in[4], const bool reduce[4], float* y, int64_t n0, int64_t n1,
                        double* sum) {
  int64_t out[4], count = 1;
  for (int k = 1; k < 4; ++k) {
    out[k] = reduce[k] ? 1 : in[k];
    if (reduce[k]) count *= in[k];
  }
  // The output offset each input step moves by: 0 along an averaged dimension.
  const int64_t sc = reduce[1] ? 0 : 1, sw = reduce[3] ? 0 : out[1], sh = reduce[2] ? 0 : out[3] * out[1];
  const int64_t per_out = out[1] * out[2] * out[3], per_in = in[1] * in[2] * in[3];
  for (int64_t n = n0; n < n1; ++n) {
    std::fill(sum, sum + per_out, 0.0);
    const float* src = x + n * per_in;
    for (int64_t h = 0; h < in[2]; ++h)
      for (int64_t w = 0; w < in[3]; ++w) {
        double* acc = sum + h * sh + w * sw;
        for (int64_t c = 0; c < in[1]; ++c) acc[c * sc] += *src++;
      }
    float* dst = y + n * per_out;
    for (int64_t i = 0; i < per_out; ++i) dst[i] = float(sum[i] / double(count));
  }
}

}  // namespace attocore
