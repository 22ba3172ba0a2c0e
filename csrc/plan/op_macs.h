// Multiply-adds of one op: the one count the native side reports (a step's are its ops',
// whatever pattern fused them; attocore._core.op_macs gives them to Python).
#pragma once
#include <cstdint>
#include <vector>

#include "graph/graph.h"

namespace attocore {

// The formula itself, on shapes: an op of `type` writing `output` (NCHW, or N x features)
// with weights of `weight` shape (OIHW, or [out, in]). Python's summary calls this one too.
int64_t macs_of(OpType type, const std::vector<int64_t>& output, const std::vector<int64_t>& weight);

// At batch 1; 0 for ops without multiply-adds (pools, adds, activations).
int64_t op_macs(const Graph& graph, const OpInfo& op);

}  // namespace attocore
