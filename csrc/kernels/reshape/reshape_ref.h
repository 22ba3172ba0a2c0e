// Layout ops on the executor's NHWC storage of a rank-2..4 tensor's 4-D view ([N, C] is
// [N, C, 1, 1], [N, C, L] is [N, C, 1, L]: exec/op_shapes.h's View4): reshape (the logical,
// NCHW, element order is kept, so the channel-last storage moves unless the channels stay)
// and transpose. dims are the view's [N, C, H, W]; ranges are output rows so threads split them.
#pragma once
#include <cstddef>
#include <cstdint>

namespace attocore {

// y (dims `out`) = x (dims `in`) reshaped: output channel planes [q0, q1) of the flattened
// batch * out[1]. A plane walks its pixels with the matching input (channel, pixel) carried
// along, no division per element.
void reshape_planes(const float* x, const int64_t in[4], float* y, const int64_t out[4], int64_t q0, int64_t q1);

// y[n, k1, k2, k3] = x at the input coordinates perm gives (output dimension k is input
// dimension perm[k], perm[0] = 0): output rows [r0, r1) of the flattened batch * out H.
void transpose_rows(const float* x, const int64_t in[4], const int perm[4], float* y, int64_t r0, int64_t r1);

// For each of the blocks [o0, o1): `block` floats from x + o * x_stride to y + o * y_stride
// (a concat's piece, or a slice, along a dimension outside the channels).
void copy_blocks(const float* x, int64_t x_stride, float* y, int64_t y_stride, int64_t block, int64_t o0, int64_t o1);

}  // namespace attocore
