#include "kernels/softmax/softmax_ref.h"

#include <cmath>

namespace attocore {

void softmax_rows(const float* x, int channels, float* y, size_t p0, size_t p1) {
  for (size_t p = p0; p < p1; ++p) {
    const float* src = x + p * channels;
    float* dst = y + p * channels;
    float top = src[0];
    for (int c = 1; c < channels; ++c) top = src[c] > top || std::isnan(src[c]) ? src[c] : top;
    double sum = 0;
    for (int c = 0; c < channels; ++c) sum += dst[c] = std::exp(src[c] - top);
    const float inv = float(1.0 / sum);
    for (int c = 0; c < channels; ++c) dst[c] *= inv;
  }
}

}  // namespace attocore
