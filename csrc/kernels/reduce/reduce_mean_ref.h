// Mean over any of a tensor's dimensions but the batch, on the NHWC storage of its 4-D view
// (exec/op_shapes.h's View4); the averaged dimensions stay with size 1. Sums in double, so a
// mean over a whole feature map keeps float precision.
#pragma once
#include <cstdint>

namespace attocore {

// Images [n0, n1): `reduce[k]` says whether view dimension k (1..3) is averaged. `sum`: one
// image's output count of doubles, the caller's (the layer's per-thread scratch).
void reduce_mean_images(const float* x, const int64_t in[4], const bool reduce[4], float* y, int64_t n0, int64_t n1,
                        double* sum);

}  // namespace attocore
