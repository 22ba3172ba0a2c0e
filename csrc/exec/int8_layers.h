// The layers of int8 ops (docs/QUANTIZATION.md), one op a step: convolutions on the int8 GEMM
// (1x1 directly, other dense ones through an im2col padded with the input's zero point) and
// depthwise kernels, fully connected, max pool, global average pool, add, and the quantize
// and dequantize ops at the graph's float edges. Every one computes exactly what the integer
// reference does, on whichever kernels the session's instruction set takes (qkernel_table.h).
#pragma once
#include <memory>

#include "exec/layer.h"
#include "graph/graph.h"
#include "kernels/dispatch/kernel_table.h"

namespace attocore {

// The layer of op `op`, which reads or writes an int8 tensor (plan/fusion.h touches_int8).
std::unique_ptr<Layer> make_int8_layer(const Graph& graph, const OpInfo& op, Isa isa);

}  // namespace attocore
