// Layers of the ops on tensors of any rank 2-4 (docs/FORMAT.md, "Tensor ranks"): reshape,
// transpose, eltwise_const and reduce_mean, and concat, slice and softmax along a dimension
// outside the channels (along the channels they are tensor_op_layers.cpp's). Detection heads
// and decoders run them on small tensors: portable loops, no ISA variants.
#pragma once
#include <memory>

#include "exec/layer.h"
#include "graph/graph.h"

namespace attocore {

// The layer of op, or null when op is none of these (or runs along the channels).
std::unique_ptr<Layer> make_shape_op_layer(const Graph& g, const OpInfo& op);

}  // namespace attocore
