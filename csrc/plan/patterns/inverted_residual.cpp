// inverted_residual: MobileNet-V2's inverted residual block as one step (steps/mbconv.h):
//
//   expand (1x1) -> dw -> conv (1x1) [-> add]
//
// Grows a dw_conv1x1 step by the expansion that produces the depthwise input, when that
// expansion is large (is_block_expansion). It seeds nothing: the expansion is the last
// thing taken, after every step had its own ops (a 1x1 fed by a depthwise, as in
// MobileNet-V1's depthwise -> 1x1 -> depthwise chains, joins its own depthwise first).
#include "plan/patterns/inverted_residual.h"

#include <string>

#include "exec/for_pixels.h"
#include "exec/op_shapes.h"
#include "plan/patterns/dw_conv1x1.h"
#include "plan/patterns/pattern_list.h"
#include "steps/mbconv.h"

namespace attocore {
namespace {

using namespace dw_conv1x1_roles;
constexpr char kExpand[] = "expand";

class MbConvLayer : public Layer {
 public:
  MbConvLayer(const Graph& g, const Match& m, const KernelTable& table) : residual_(m.has(kAdd)) {
    const OpInfo& e = g.ops[m.op(kExpand)];
    const OpInfo& d = g.ops[m.op(kDw)];
    const OpInfo& p = g.ops[m.op(kConv)];
    const int in_c = int(shape_of(g, e.inputs[0])[1]), out_c = int(shape_of(g, p.outputs[0])[1]);
    const DwconvShape ds = dwconv_shape(g, d);
    block_ = MbConv(in_c, table.gemm_for(ds.in_c), weights_of(g, e), bias_of(g, e), e.activation, table.dwconv, ds,
                    weights_of(g, d), bias_of(g, d), d.activation, out_c, table.gemm_for(out_c), weights_of(g, p),
                    bias_of(g, p), residual_ ? g.ops[m.op(kAdd)].activation : p.activation);
    name_ = std::string("mbconv:") + block_.expand.kernel->name + "+" + table.dwconv.name + "+" +
            block_.project.kernel->name + (residual_ ? "+res" : "");
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    const DwconvShape& s = block_.dw.shape;
    const int pixels = ctx.batch * s.out_h * s.out_w;
    for_pixels(ctx, pixels, block_.project.kernel->mr, [&](int p0, int p1, float* scratch) {
      block_.run(io.input, residual_ ? io.shortcut : nullptr, io.output, scratch, p0, p1);
    });
  }
  std::string kernel_name() const override { return name_; }
  // No overwritable_input(): never in place, residual or not, since the residual is the block
  // input, whose rows next to a thread's range another thread reads for its expansion.
  size_t scratch_floats() const override { return block_.scratch_floats(); }

 private:
  MbConv block_;
  bool residual_;
  std::string name_;
};

class InvertedResidual final : public Pattern {
 public:
  const char* name() const override { return "inverted_residual"; }
  bool seeds() const override { return false; }

  std::optional<Match> grow(FusionContext& ctx, const Match& step) const override {
    if (step.pattern != &dw_conv1x1_pattern()) return std::nullopt;
    const int e = ctx.producer(ctx.op(step.op(kDw)).inputs[0]);
    if (e < 0 || ctx.claimed(e)) return std::nullopt;
    std::string why;
    if (!is_block_expansion(ctx, e, &why))
      return ctx.decline(e, "before the depthwise of " + ctx.name(step.op(kConv)) + " (as expand), but " + why);
    Match m = step;
    m.pattern = this;
    m.add(kExpand, e);
    return m;
  }

  StepTensors tensors(const Graph& g, const Match& m) const override {
    StepTensors io;
    io.input = g.ops[m.op(kExpand)].inputs[0];
    const int conv_out = g.ops[m.op(kConv)].outputs[0];
    if (m.has(kAdd)) io.shortcut = other_addend(g.ops[m.op(kAdd)], conv_out);
    io.output = m.has(kAdd) ? g.ops[m.op(kAdd)].outputs[0] : conv_out;
    return io;
  }

  std::string step_name(const Graph& g, const Match& m) const override {
    return g.ops[m.op(kExpand)].name + ".." + g.ops[m.op(kConv)].name +
           (m.has(kAdd) ? "+" + g.ops[m.op(kAdd)].name : "");
  }

  std::unique_ptr<Layer> build(const Graph& g, const Match& m, const KernelTable& table) const override {
    return std::make_unique<MbConvLayer>(g, m, table);
  }
};

}  // namespace

bool is_block_expansion(const FusionContext& ctx, int op, std::string* why) {
  const OpInfo& e = ctx.op(op);
  if (!is_pointwise(e, false)) return *why = "not a stride-1 1x1 convolution", false;
  const int t = e.outputs[0];
  if (!ctx.internal(t)) return *why = "its output is read by " + std::to_string(ctx.readers(t)) + " ops", false;
  const int r = ctx.last_reader(t);
  if (!is_depthwise(ctx.graph(), ctx.op(r)) || ctx.op(r).inputs[0] != t)
    return *why = "read by " + ctx.name(r) + ", not a depthwise convolution", false;
  const auto& shape = ctx.graph().tensors[t].shape;
  const double bytes = 4.0 * double(shape[1]) * double(shape[2]) * double(shape[3]);
  if (bytes < kBlockMinExpandedBytes)
    return *why = "its output (" + std::to_string(int64_t(bytes) >> 10) + " KiB an image) is under the " +
                  std::to_string(int64_t(kBlockMinExpandedBytes) >> 20) + " MiB where the block in one step pays",
           false;
  return true;
}

const Pattern& inverted_residual_pattern() {
  static const InvertedResidual pattern;
  return pattern;
}

}  // namespace attocore
