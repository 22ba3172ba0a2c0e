// conv_activation: a convolution and the smooth activation (sigmoid, hard sigmoid, hard swish,
// SiLU) that alone reads its output, as MobileNet-V3 and EfficientNet write every convolution:
// the activation kernel runs on each piece of the output as the convolution writes it, while
// it is in cache, instead of a pass of its own over the whole tensor. Seeds at the
// convolution; the clamps need no pattern (they are the convolution's own epilogue).
#include <string>

#include "exec/op_layers.h"
#include "plan/patterns/pattern_list.h"

namespace attocore {
namespace {

constexpr char kConv[] = "conv", kAct[] = "activation";

class ConvActivation final : public Pattern {
 public:
  const char* name() const override { return "conv_activation"; }

  std::optional<Match> seed(FusionContext& ctx, int op) const override {
    const OpInfo& c = ctx.op(op);
    if (c.type != OpType::kConv2d) return ctx.decline(op, "not a convolution");
    if (c.activation != Activation::kNone) return ctx.decline(op, "has an activation of its own");
    const int t = c.outputs[0];
    if (!ctx.internal(t)) return ctx.decline(op, "its output is read by more than one op, or is the graph output");
    const int a = ctx.last_reader(t);
    if (ctx.op(a).type != OpType::kActivation || is_clamp(ctx.op(a).activation) || ctx.claimed(a))
      return ctx.decline(op, "read by " + ctx.name(a) + ", not a smooth activation");
    Match m(this);
    m.add(kConv, op).add(kAct, a);
    m.position = a;
    return m;
  }

  StepTensors tensors(const Graph& g, const Match& m) const override {
    StepTensors io;
    io.input = g.ops[m.op(kConv)].inputs[0];
    io.output = g.ops[m.op(kAct)].outputs[0];
    return io;
  }

  std::string step_name(const Graph& g, const Match& m) const override {
    return g.ops[m.op(kConv)].name + "+" + g.ops[m.op(kAct)].name;
  }

  std::unique_ptr<Layer> build(const Graph& g, const Match& m, const KernelTable& table) const override {
    return make_conv_activation_layer(g, m.op(kConv), table, g.ops[m.op(kAct)].activation);
  }
};

}  // namespace

const Pattern& conv_activation_pattern() {
  static const ConvActivation pattern;
  return pattern;
}

}  // namespace attocore
