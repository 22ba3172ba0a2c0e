// Data movement along the channels of NHWC tensors: a concat's pieces, a slice (Split),
// ShuffleNet's channel shuffle and zero padding. Pixels [p0, p1) of the flattened
// batch * H * W (padding: output rows), so threads split them.
#pragma once
#include <cstddef>

namespace attocore {

// Copies each pixel's `channels` floats of x into y at channel `at` of y's `y_channels`.
void copy_channels_into(const float* x, int channels, float* y, int y_channels, int at, size_t p0, size_t p1);

// y's pixel = x's channels [begin, begin + channels) of its `x_channels`.
void slice_channels(const float* x, int x_channels, int begin, int channels, float* y, size_t p0, size_t p1);

// view (groups, C / groups) -> transpose -> flatten, per pixel: y[j * groups + g] = x[g * (C / groups) + j].
void shuffle_channels(const float* x, int channels, int groups, float* y, size_t p0, size_t p1);

// Output rows [r0, r1) of the flattened batch * out_h of a zero-padded copy.
void zero_pad_rows(const float* x, int h, int w, int c, int top, int left, int bottom, int right, float* y, int r0,
                   int r1);

}  // namespace attocore
