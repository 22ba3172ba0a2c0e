#include "kernels/layout/layout.h"

#include <cstddef>

namespace attocore {

void nchw_to_nhwc(int n, int c, int h, int w, const float* src, float* dst) {
  const size_t hw = size_t(h) * w;
  for (int b = 0; b < n; ++b)
    for (int ch = 0; ch < c; ++ch) {
      const float* s = src + (size_t(b) * c + ch) * hw;
      float* d = dst + size_t(b) * hw * c + ch;
      for (size_t p = 0; p < hw; ++p) d[p * c] = s[p];
    }
}

void nhwc_to_nchw(int n, int c, int h, int w, const float* src, float* dst) {
  const size_t hw = size_t(h) * w;
  for (int b = 0; b < n; ++b)
    for (int ch = 0; ch < c; ++ch) {
      const float* s = src + size_t(b) * hw * c + ch;
      float* d = dst + (size_t(b) * c + ch) * hw;
      for (size_t p = 0; p < hw; ++p) d[p] = s[p * c];
    }
}

}  // namespace attocore
