// Softmax over the channels of each pixel (NHWC: contiguous), or of each row of an [N, C]
// tensor: exp(x - max) / sum, in float with a double sum, so a large channel count keeps its
// precision. Rows [p0, p1) of `channels` floats.
#pragma once
#include <cstddef>

namespace attocore {

void softmax_rows(const float* x, int channels, float* y, size_t p0, size_t p1);

}  // namespace attocore
