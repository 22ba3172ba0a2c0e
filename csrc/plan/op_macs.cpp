#include "plan/op_macs.h"

namespace attocore {

int64_t macs_of(OpType type, const std::vector<int64_t>& y, const std::vector<int64_t>& w) {
  switch (type) {
    case OpType::kConv2d:  // every output element: one weight per (input channel of its group, tap)
      return y.size() == 4 && w.size() == 4 ? y[1] * y[2] * y[3] * w[1] * w[2] * w[3] : 0;
    case OpType::kFullyConnected: return y.size() == 2 && w.size() == 2 ? y[1] * w[1] : 0;
    default: return 0;
  }
}

int64_t op_macs(const Graph& g, const OpInfo& op) {
  static const std::vector<int64_t> kNoWeight;
  if (op.type == OpType::kConvTranspose) {  // every input pixel times its weights [in, out / groups, kh, kw]
    const std::vector<int64_t>& x = g.tensors[op.inputs[0]].shape;
    return x[2] * x[3] * g.tensors[op.inputs[1]].elements;
  }
  const bool weighted = op.type == OpType::kConv2d || op.type == OpType::kFullyConnected;
  return macs_of(op.type, g.tensors[op.outputs[0]].shape,
                 weighted && op.inputs.size() > 1 ? g.tensors[op.inputs[1]].shape : kNoWeight);
}

}  // namespace attocore
