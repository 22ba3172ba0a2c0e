// y = x op c, or c op x (swap), with c repeating every `period` floats of the NHWC storage:
// 1 for one value, the channel count for one value per channel, one image's elements for
// anything else (the layer lays the broadcast constant out so, once, at load).
#pragma once
#include <cstddef>

#include "graph/graph.h"

namespace attocore {

void eltwise_const(const float* x, const float* c, size_t period, EltwiseKind kind, bool swap, float* y, size_t i0,
                   size_t i1);

}  // namespace attocore
