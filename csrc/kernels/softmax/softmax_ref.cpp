#include "kernels/softmax/softmax_ref.h"

#include <algorithm>
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

void softmax_strided(const float* x, int64_t length, int64_t inner, float* y, int64_t o0, int64_t o1, float* work) {
  double* sum = reinterpret_cast<double*>(work);  // inner doubles, then inner floats
  float* top = work + 2 * inner;
  for (int64_t o = o0; o < o1; ++o) {
    const float* src = x + o * length * inner;
    float* dst = y + o * length * inner;
    std::copy(src, src + inner, top);
    for (int64_t l = 1; l < length; ++l)
      for (int64_t j = 0; j < inner; ++j) {
        const float v = src[l * inner + j];
        top[size_t(j)] = v > top[size_t(j)] || std::isnan(v) ? v : top[size_t(j)];
      }
    std::fill(sum, sum + inner, 0.0);
    for (int64_t l = 0; l < length; ++l)
      for (int64_t j = 0; j < inner; ++j) sum[size_t(j)] += dst[l * inner + j] = std::exp(src[l * inner + j] - top[size_t(j)]);
    for (int64_t j = 0; j < inner; ++j) top[size_t(j)] = float(1.0 / sum[size_t(j)]);
    for (int64_t l = 0; l < length; ++l)
      for (int64_t j = 0; j < inner; ++j) dst[l * inner + j] *= top[size_t(j)];
  }
}

}  // namespace attocore
