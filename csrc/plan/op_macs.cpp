#include "plan/op_macs.h"

namespace attocore {

int64_t op_macs(const Graph& g, const OpInfo& op) {
  const auto& y = g.tensors[op.outputs[0]].shape;
  switch (op.type) {
    case OpType::kConv2d: {  // every output element: one weight per (input channel of its group, tap)
      const auto& w = g.tensors[op.inputs[1]].shape;
      return y[1] * y[2] * y[3] * w[1] * w[2] * w[3];
    }
    case OpType::kFullyConnected: return y[1] * g.tensors[op.inputs[1]].shape[1];
    default: return 0;
  }
}

}  // namespace attocore
