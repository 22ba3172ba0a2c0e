#include "kernels/reshape/reshape_ref.h"

#include <cstring>

namespace attocore {

void reshape_planes(const float* x, const int64_t in[4], float* y, const int64_t out[4], int64_t q0, int64_t q1) {
  const int64_t in_c = in[1], in_px = in[2] * in[3], out_c = out[1], out_px = out[2] * out[3];
  for (int64_t q = q0; q < q1; ++q) {
    const int64_t n = q / out_c, oc = q % out_c;
    // The plane's first element in NCHW order, and where it sits in the input.
    const int64_t first = oc * out_px;
    int64_t c = first / in_px, p = first % in_px;
    const float* src = x + n * in_c * in_px;
    float* dst = y + n * out_c * out_px + oc;
    for (int64_t op = 0; op < out_px; ++op) {
      dst[op * out_c] = src[p * in_c + c];
      if (++p == in_px) p = 0, ++c;
    }
  }
}

void transpose_rows(const float* x, const int64_t in[4], const int perm[4], float* y, int64_t r0, int64_t r1) {
  // NHWC strides of the input's dimensions, then of each output dimension's source.
  const int64_t in_stride[4] = {in[1] * in[2] * in[3], 1, in[3] * in[1], in[1]};
  int64_t out[4], s[4];
  for (int k = 0; k < 4; ++k) out[k] = in[perm[k]], s[k] = in_stride[perm[k]];
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t n = r / out[2], h = r % out[2];
    const float* row = x + n * s[0] + h * s[2];
    float* dst = y + r * out[3] * out[1];
    for (int64_t w = 0; w < out[3]; ++w) {
      const float* px = row + w * s[3];
      for (int64_t c = 0; c < out[1]; ++c) *dst++ = px[c * s[1]];
    }
  }
}

void copy_blocks(const float* x, int64_t x_stride, float* y, int64_t y_stride, int64_t block, int64_t o0, int64_t o1) {
  for (int64_t o = o0; o < o1; ++o) std::memcpy(y + o * y_stride, x + o * x_stride, size_t(block) * sizeof(float));
}

}  // namespace attocore
