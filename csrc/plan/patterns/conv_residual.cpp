// conv_residual: a dense convolution on the GEMM kernels and the residual add that alone
// reads its output, the add and its activation run in the GEMM epilogue (a ResNet block's
// second 3x3, a 1x1 with its shortcut: residual_add() says when). Seeds at the convolution.
#include <string>

#include "exec/op_layers.h"
#include "plan/patterns/pattern_list.h"

namespace attocore {
namespace {

constexpr char kConv[] = "conv", kAdd[] = "add";

class ConvResidual final : public Pattern {
 public:
  const char* name() const override { return "conv_residual"; }

  std::optional<Match> seed(FusionContext& ctx, int op) const override {
    std::string why;
    const int a = residual_add(ctx, op, &why);
    if (a < 0) return ctx.decline(op, why);
    Match m(this);
    m.add(kConv, op).add(kAdd, a);
    m.position = a;
    return m;
  }

  StepTensors tensors(const Graph& g, const Match& m) const override {
    StepTensors io;
    const OpInfo& conv = g.ops[m.op(kConv)];
    io.input = conv.inputs[0];
    io.shortcut = other_addend(g.ops[m.op(kAdd)], conv.outputs[0]);
    io.output = g.ops[m.op(kAdd)].outputs[0];
    return io;
  }

  std::string step_name(const Graph& g, const Match& m) const override {
    return g.ops[m.op(kConv)].name + "+" + g.ops[m.op(kAdd)].name;
  }

  std::unique_ptr<Layer> build(const Graph& g, const Match& m, const KernelTable& table) const override {
    return make_conv_residual_layer(g, g.ops[m.op(kConv)], table, g.ops[m.op(kAdd)].activation);
  }
};

}  // namespace

const Pattern& conv_residual_pattern() {
  static const ConvResidual pattern;
  return pattern;
}

}  // namespace attocore
