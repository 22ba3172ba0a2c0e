// Multiply-adds of one op: the one count the native side reports (a step's are its ops',
// whatever pattern fused them; attocore._core.op_macs gives them to Python).
#pragma once
#include <cstdint>

#include "graph/graph.h"

namespace attocore {

// At batch 1; 0 for ops without multiply-adds (pools, adds, activations).
int64_t op_macs(const Graph& graph, const OpInfo& op);

}  // namespace attocore
