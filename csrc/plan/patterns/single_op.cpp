// single: one op as its own step, with its bias and activation in the kernel's epilogue
// (exec/op_layers.h): every op no fused pattern took.
#include <algorithm>
#include <string>
#include <vector>

#include "exec/op_layers.h"
#include "plan/patterns/pattern_list.h"
#include "util/error.h"

namespace attocore {
namespace {

constexpr char kOp[] = "op";

class SingleOp final : public Pattern {
 public:
  const char* name() const override { return "single"; }
  bool seeds() const override { return false; }  // the planner's fallback, not in the list

  // Its activation inputs in the op's order (an add's second addend is the shortcut, a
  // concat's third and later inputs `more`).
  StepTensors tensors(const Graph& g, const Match& m) const override {
    const OpInfo& op = g.ops[m.op(kOp)];
    std::vector<int> activations;
    for (int t : op.inputs)
      if (!g.tensors[t].constant) activations.push_back(t);
    if (activations.empty() || activations.size() > size_t(kMaxStepInputs))
      fail(ErrorCode::kUnsupported, "op '" + op.name + "' reads " + std::to_string(activations.size()) +
                                        " activation tensors (a step takes 1 to " + std::to_string(kMaxStepInputs) + ")");
    StepTensors io;
    io.input = activations[0];
    if (activations.size() >= 2) io.shortcut = activations[1];
    io.more.assign(activations.begin() + std::min<size_t>(2, activations.size()), activations.end());
    io.output = op.outputs[0];
    return io;
  }

  std::string step_name(const Graph& g, const Match& m) const override { return g.ops[m.op(kOp)].name; }

  std::unique_ptr<Layer> build(const Graph& g, const Match& m, const KernelTable& table) const override {
    return make_op_layer(g, m.op(kOp), table);
  }
};

}  // namespace

const Pattern& single_op_pattern() {
  static const SingleOp pattern;
  return pattern;
}

// The step of op `op` alone.
Match single_op_match(int op) {
  Match m(&single_op_pattern());
  m.add(kOp, op);
  m.position = op;
  return m;
}

}  // namespace attocore
