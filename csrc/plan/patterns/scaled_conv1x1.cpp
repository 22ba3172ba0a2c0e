// scaled_conv1x1: a squeeze-and-excitation block's channel scale and the 1x1 projection that
// alone reads it (MobileNet-V3, EfficientNet), with that projection's residual add when
// residual_add() allows: y = W (x * s) (+ shortcut). Each tile of pixels is scaled into
// per-thread scratch, in L1, right before the GEMM reads it, so the scaled tensor (the
// block's widest) is never written out and read back. Seeds at the scale (the mul).
#include <algorithm>
#include <memory>
#include <string>

#include "exec/for_pixels.h"
#include "exec/op_shapes.h"
#include "graph/activation_epilogue.h"
#include "kernels/eltwise/activation.h"
#include "plan/patterns/pattern_list.h"
#include "steps/conv2d_gemm.h"

namespace attocore {
namespace {

constexpr char kScale[] = "scale", kConv[] = "conv", kAdd[] = "add";

class ScaledConv1x1Layer : public Layer {
 public:
  ScaledConv1x1Layer(const Graph& g, const OpInfo& conv, const KernelTable& table, bool residual, Activation act)
      : conv_(conv_shape(g, conv), table.gemm_for(conv_shape(g, conv).out_c), weights_of(g, conv), bias_of(g, conv)),
        residual_(residual),
        act_(act) {
    const Conv2dShape& s = conv_.shape;
    per_image_ = s.in_h * s.in_w;
    tile_ = fused_tile_rows(conv_.b, s.in_c, conv_.kernel->mr);
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    const Conv2dShape& s = conv_.shape;
    const float* scales = io.more[0];  // [N, C]
    for_pixels(ctx, ctx.batch * per_image_, conv_.kernel->mr, [&](int p0, int p1, float* scratch) {
      for (int p = p0; p < p1;) {
        // A tile inside one image: its pixels share the image's scale row.
        const int n = p / per_image_, end = std::min({p1, p + tile_, (n + 1) * per_image_}), rows = end - p;
        scale_channels_ref(io.input + size_t(p) * s.in_c, scales + size_t(n) * s.in_c, size_t(rows), size_t(s.in_c),
                           Activation::kNone, scratch);
        gemm(*conv_.kernel, rows, scratch, size_t(s.in_c), conv_.b, io.output + size_t(p) * s.out_c, size_t(s.out_c),
             residual_ ? io.shortcut + size_t(p) * s.out_c : nullptr, size_t(s.out_c), epilogue_of(act_));
        p = end;
      }
    });
  }
  std::string kernel_name() const override {
    return std::string("scale+conv1x1") + (residual_ ? "+res" : "") + ":" + conv_.kernel->name;
  }
  size_t scratch_floats() const override { return size_t(tile_) * conv_.shape.in_c; }

 private:
  Conv2dGemm conv_;
  bool residual_;
  Activation act_;
  int per_image_ = 0, tile_ = 0;
};

class ScaledConv1x1 final : public Pattern {
 public:
  const char* name() const override { return "scaled_conv1x1"; }

  std::optional<Match> seed(FusionContext& ctx, int op) const override {
    const Graph& g = ctx.graph();
    const OpInfo& mul = ctx.op(op);
    if (mul.type != OpType::kMul) return ctx.decline(op, "not a mul");
    if (g.tensors[mul.inputs[1]].shape.size() != 2 || g.tensors[mul.inputs[0]].shape.size() != 4)
      return ctx.decline(op, "not a per-channel scale of a feature map");
    if (mul.activation != Activation::kNone) return ctx.decline(op, "has an activation of its own");
    const int t = mul.outputs[0];
    if (!ctx.internal(t)) return ctx.decline(op, "its output is read by more than one op, or is the graph output");
    const int c = ctx.last_reader(t);
    const OpInfo& conv = ctx.op(c);
    if (ctx.claimed(c) || !is_pointwise(conv, false) || conv.inputs[0] != t)
      return ctx.decline(op, "read by " + ctx.name(c) + ", not a free stride-1 1x1 convolution");
    Match m(this);
    m.add(kScale, op).add(kConv, c);
    m.position = c;
    std::string why;
    if (const int a = residual_add(ctx, c, &why); a >= 0) m.add(kAdd, a), m.position = a;
    return m;
  }

  StepTensors tensors(const Graph& g, const Match& m) const override {
    const OpInfo& mul = g.ops[m.op(kScale)];
    StepTensors io;
    io.input = mul.inputs[0];
    io.more = {mul.inputs[1]};
    io.output = g.ops[m.op(kConv)].outputs[0];
    if (m.has(kAdd)) {
      io.shortcut = other_addend(g.ops[m.op(kAdd)], io.output);
      io.output = g.ops[m.op(kAdd)].outputs[0];
    }
    return io;
  }

  std::string step_name(const Graph& g, const Match& m) const override {
    return g.ops[m.op(kScale)].name + "+" + g.ops[m.op(kConv)].name + (m.has(kAdd) ? "+" + g.ops[m.op(kAdd)].name : "");
  }

  std::unique_ptr<Layer> build(const Graph& g, const Match& m, const KernelTable& table) const override {
    const bool residual = m.has(kAdd);
    return std::make_unique<ScaledConv1x1Layer>(g, g.ops[m.op(kConv)], table, residual,
                                                residual ? g.ops[m.op(kAdd)].activation : g.ops[m.op(kConv)].activation);
  }
};

}  // namespace

const Pattern& scaled_conv1x1_pattern() {
  static const ScaledConv1x1 pattern;
  return pattern;
}

}  // namespace attocore
