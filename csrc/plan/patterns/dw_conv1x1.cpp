// dw_conv1x1: a depthwise layer and the stride-1 1x1 convolution that alone reads its output
// (MobileNet's depthwise -> projection) as one step (steps/dw_conv1x1.h), with that 1x1's
// residual add when the GEMM epilogue can run it (residual_add()). Seeds at the 1x1.
#include <string>

#include "exec/for_pixels.h"
#include "exec/op_shapes.h"
#include "plan/patterns/dw_conv1x1.h"
#include "plan/patterns/pattern_list.h"
#include "steps/dw_conv1x1.h"

namespace attocore {
namespace {

using namespace dw_conv1x1_roles;

class DwConv1x1Layer : public Layer {
 public:
  DwConv1x1Layer(const Graph& g, const Match& m, const KernelTable& table) : residual_(m.has(kAdd)) {
    const OpInfo& d = g.ops[m.op(kDw)];
    const OpInfo& c = g.ops[m.op(kConv)];
    const int out_c = int(shape_of(g, c.outputs[0])[1]);
    const GemmKernel& kernel = table.gemm_for(out_c);
    step_ = DwConv1x1(table.dwconv, dwconv_shape(g, d), weights_of(g, d), bias_of(g, d), d.activation, kernel, out_c,
                      weights_of(g, c), bias_of(g, c), residual_ ? g.ops[m.op(kAdd)].activation : c.activation);
    name_ = std::string(table.dwconv.name) + (residual_ ? "+conv1x1+res:" : "+conv1x1:") + kernel.name;
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    const DwconvShape& s = step_.dw.shape;
    const int pixels = ctx.batch * s.out_h * s.out_w;
    for_pixels(ctx, pixels, step_.kernel->mr, [&](int p0, int p1, float* scratch) {
      step_.run(ctx.batch, io.input, residual_ ? io.shortcut : nullptr, io.output, scratch, p0, p1);
    });
  }
  std::string kernel_name() const override { return name_; }
  std::optional<InputPort> overwritable_input() const override {
    return residual_ ? std::optional(InputPort::kShortcut) : std::nullopt;
  }
  size_t scratch_floats() const override { return step_.scratch_floats(); }

 private:
  DwConv1x1 step_;
  bool residual_;
  std::string name_;
};

class DwConv1x1Pattern final : public Pattern {
 public:
  const char* name() const override { return "dw_conv1x1"; }

  std::optional<Match> seed(FusionContext& ctx, int op) const override {
    if (!is_pointwise(ctx.op(op), false)) return ctx.decline(op, "not a stride-1 1x1 convolution");
    const int t = ctx.op(op).inputs[0];
    const int d = ctx.producer(t);
    if (d < 0) return ctx.decline(op, "reads the network input");
    if (!is_depthwise(ctx.graph(), ctx.op(d)))
      return ctx.decline(op, "input from " + ctx.name(d) + ", not a depthwise convolution");
    if (ctx.claimed(d)) return ctx.decline(op, "its depthwise input " + ctx.name(d) + " is taken");
    if (!ctx.internal(t)) return ctx.decline(op, "its input is read by " + std::to_string(ctx.readers(t)) + " ops");
    Match m(this);
    m.add(kDw, d).add(kConv, op);
    m.position = op;
    std::string no_add;
    const int a = residual_add(ctx, op, &no_add);
    if (a >= 0) m.add(kAdd, a), m.position = a;
    return m;
  }

  StepTensors tensors(const Graph& g, const Match& m) const override {
    StepTensors io;
    io.input = g.ops[m.op(kDw)].inputs[0];
    const int conv_out = g.ops[m.op(kConv)].outputs[0];
    if (m.has(kAdd)) io.shortcut = other_addend(g.ops[m.op(kAdd)], conv_out);
    io.output = m.has(kAdd) ? g.ops[m.op(kAdd)].outputs[0] : conv_out;
    return io;
  }

  std::string step_name(const Graph& g, const Match& m) const override {
    return g.ops[m.op(kDw)].name + ".." + g.ops[m.op(kConv)].name + (m.has(kAdd) ? "+" + g.ops[m.op(kAdd)].name : "");
  }

  std::unique_ptr<Layer> build(const Graph& g, const Match& m, const KernelTable& table) const override {
    return std::make_unique<DwConv1x1Layer>(g, m, table);
  }
};

}  // namespace

const Pattern& dw_conv1x1_pattern() {
  static const DwConv1x1Pattern pattern;
  return pattern;
}

}  // namespace attocore
