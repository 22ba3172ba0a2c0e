// Softmax over the channels of each pixel (NHWC: contiguous), or of each row of an [N, C]
// tensor: exp(x - max) / sum, in float with a double sum, so a large channel count keeps its
// precision. Rows [p0, p1) of `channels` floats.
#pragma once
#include <cstddef>
#include <cstdint>

namespace attocore {

void softmax_rows(const float* x, int channels, float* y, size_t p0, size_t p1);

// Softmax along a dimension outside the channels: for each of the blocks [o0, o1) of
// `length` x `inner` floats, over the `length` values `inner` apart (the same arithmetic as
// softmax_rows, vectorised across the inner floats). `work`: softmax_strided_work(inner)
// floats of the caller's (the layer's per-thread scratch), 8-byte aligned.
inline size_t softmax_strided_work(int64_t inner) { return size_t(inner) * 3; }
void softmax_strided(const float* x, int64_t length, int64_t inner, float* y, int64_t o0, int64_t o1, float* work);

}  // namespace attocore
