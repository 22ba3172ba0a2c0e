// Layers of the float32 ops that move or combine whole tensors, or up-sample them, as the
// exported CNNs use them (docs/FORMAT.md, codes 11-19; along the channels: shape_op_layers.h has the
// other axes): concat, slice, channel shuffle,
// resize, softmax, transposed convolution, PReLU, pad and clip.
#pragma once
#include <memory>

#include "exec/layer.h"
#include "graph/graph.h"
#include "kernels/dispatch/kernel_table.h"

namespace attocore {

// The layer of op, or null when op is none of these ops.
std::unique_ptr<Layer> make_tensor_op_layer(const Graph& g, const OpInfo& op, const KernelTable& table);

}  // namespace attocore
