// y = x op c, or c op x (swap), with c repeating every `period` floats of the NHWC storage:
// 1 for one value, the channel count for one value per channel. Any other broadcast goes
// through eltwise_const_strided, which reads c in place through its strides: laying it out as
// one image of x would let a 4 KiB constant of a file cost gigabytes at load.
#pragma once
#include <cstddef>

#include "graph/graph.h"

namespace attocore {

void eltwise_const(const float* x, const float* c, size_t period, EltwiseKind kind, bool swap, float* y, size_t i0,
                   size_t i1);

// Where c's element for x's NHWC element (h, w, ch) of any image is c[h sh + w sw + ch sc]
// (a stride 0 where c broadcasts); x's image is height x width x channels.
struct ConstStrides {
  size_t height, width, channels;
  size_t sh, sw, sc;
};
void eltwise_const_strided(const float* x, const float* c, const ConstStrides& s, EltwiseKind kind, bool swap,
                           float* y, size_t i0, size_t i1);

}  // namespace attocore
