// module_tail: an AttoNet module after its compression as one step (steps/dw_pwpw.h):
//
//   [dw] -> first (1x1) -> second (1x1) [-> add (identity shortcut, or a 1x1 projection)] [, next]
//
// Seeds at `second`: a stride-1 1x1 whose input comes only from another stride-1 1x1
// (`first`); with no activation of its own and its output going only to an add, the add
// joins, and the add's other addend, when it comes only from a 1x1 (any stride) without an
// activation, joins as the projection, folded into the second product. Grows by the
// depthwise layer whose output only `first` reads (run band by band inside the step) and by
// the first stride-1 1x1 after the step that reads its output (`next`, the next module's
// compression, computed on each tile while it is hot: the step's second output). Plain
// back-to-back 1x1 pairs are taken the same way. On int8 ops it builds the int8 step of the
// same shape (steps/qmodule_tail.h).
#include <string>
#include <utility>

#include "exec/for_pixels.h"
#include "exec/op_shapes.h"
#include "plan/fusion.h"
#include "plan/patterns/inverted_residual.h"
#include "plan/patterns/pattern_list.h"
#include "steps/dw_pwpw.h"
#include "steps/qmodule_tail.h"

namespace attocore {
namespace {

constexpr char kDw[] = "dw", kFirst[] = "first", kSecond[] = "second", kProjection[] = "projection", kAdd[] = "add",
               kNext[] = "next";

class PwpwLayer : public Layer {
 public:
  PwpwLayer(const Graph& g, const Match& m, const KernelTable& table) {
    const OpInfo& op1 = g.ops[m.op(kFirst)];
    const OpInfo& op2 = g.ops[m.op(kSecond)];
    PwpwShape s;
    const auto& y = shape_of(g, op2.outputs[0]);
    s.c2 = int(shape_of(g, op1.inputs[0])[1]);
    s.c3 = int(shape_of(g, op1.outputs[0])[1]);
    s.cout = int(y[1]);
    s.out_h = int(y[2]), s.out_w = int(y[3]);
    const float* wp = nullptr;
    const float* bp = nullptr;
    if (m.has(kProjection)) {
      const OpInfo& p = g.ops[m.op(kProjection)];
      const auto& x = shape_of(g, p.inputs[0]);
      s.shortcut = Shortcut::kProjection;
      s.x_c = int(x[1]), s.x_h = int(x[2]), s.x_w = int(x[3]);
      s.stride = p.window.stride_h;
      wp = weights_of(g, p);
      bp = bias_of(g, p);
    } else if (m.has(kAdd)) {
      s.shortcut = Shortcut::kIdentity;
    }
    const Activation act_out = m.has(kAdd) ? g.ops[m.op(kAdd)].activation : op2.activation;
    Pwpw tail(s, table.gemm_for(s.c3), table.gemm_for(s.cout), weights_of(g, op1), bias_of(g, op1), weights_of(g, op2),
              bias_of(g, op2), wp, bp, op1.activation, act_out);
    if (m.has(kNext)) {
      const OpInfo& n = g.ops[m.op(kNext)];
      const int c = int(shape_of(g, n.outputs[0])[1]);
      tail.attach_next(table.gemm_for(c), c, weights_of(g, n), bias_of(g, n), n.activation);
    }
    name_ = (m.has(kDw) ? std::string(table.dwconv.name) + "+" : std::string()) + "pwpw" +
            (m.has(kProjection) ? "+proj" : m.has(kAdd) ? "+res" : "") + (m.has(kNext) ? "+next:" : ":") +
            tail.second_kernel->name;
    if (m.has(kDw)) {
      const OpInfo& d = g.ops[m.op(kDw)];
      body_ = DwPwpw(table.dwconv, dwconv_shape(g, d), weights_of(g, d), bias_of(g, d), d.activation, std::move(tail));
    } else {
      body_ = DwPwpw(std::move(tail));
    }
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    const Pwpw& tail = body_.tail;
    const int pixels = ctx.batch * tail.shape.out_h * tail.shape.out_w;
    const float* x = tail.shape.shortcut == Shortcut::kNone ? nullptr : io.shortcut;
    float* next_out = tail.next_kernel ? io.next : nullptr;
    for_pixels(ctx, pixels, tail.second_kernel->mr, [&](int p0, int p1, float* scratch) {
      body_.run(ctx.batch, io.input, x, io.output, scratch, p0, p1, next_out);
    });
  }
  std::string kernel_name() const override { return name_; }
  size_t scratch_floats() const override { return body_.scratch_floats(); }
  // The identity shortcut is read pixel by pixel just before the output pixel is written.
  std::optional<InputPort> overwritable_input() const override {
    return body_.tail.shape.shortcut == Shortcut::kIdentity ? std::optional(InputPort::kShortcut) : std::nullopt;
  }

 private:
  DwPwpw body_;
  std::string name_;
};

class ModuleTail final : public Pattern {
 public:
  const char* name() const override { return "module_tail"; }

  std::optional<Match> seed(FusionContext& ctx, int op) const override {
    const OpInfo& second = ctx.op(op);
    if (!is_pointwise(second, false)) return ctx.decline(op, "not a stride-1 1x1 convolution");
    std::string why;
    // (An int8 expansion stays here: inverted_residual has no int8 step to keep it for.)
    if (!touches_int8(ctx.graph(), second) && is_block_expansion(ctx, op, &why))
      return ctx.decline(op, "a large expansion, kept for its inverted residual block");
    const int t1 = second.inputs[0];
    const int first = ctx.producer(t1);
    if (first < 0) return ctx.decline(op, "reads the network input");
    if (!is_pointwise(ctx.op(first), false))
      return ctx.decline(op, "input from " + ctx.name(first) + ", not a stride-1 1x1 convolution");
    if (ctx.claimed(first)) return ctx.decline(op, "input from " + ctx.name(first) + ", taken by another step");
    if (!ctx.internal(t1)) return ctx.decline(op, "its input is read by " + std::to_string(ctx.readers(t1)) + " ops");
    Match m(this);
    m.add(kFirst, first).add(kSecond, op);
    m.position = op;
    // The residual add, when the pair's output goes only there.
    const int t2 = second.outputs[0];
    if (!ctx.internal(t2) || second.activation != Activation::kNone) return m;
    const int a = ctx.last_reader(t2);
    if (ctx.op(a).type != OpType::kAdd || ctx.claimed(a)) return m;
    const int other = other_addend(ctx.op(a), t2);
    const int p = ctx.producer(other);
    if (p >= 0 && !ctx.claimed(p) && ctx.internal(other) && is_pointwise(ctx.op(p), true) &&
        ctx.op(p).activation == Activation::kNone)
      m.add(kProjection, p);
    m.add(kAdd, a);
    m.position = a;
    return m;
  }

  std::optional<Match> grow(FusionContext& ctx, const Match& step) const override {
    if (step.pattern != this) return std::nullopt;
    Match m = step;
    // The next 1x1 reading the output: the tile it needs was just written and is in cache.
    const int last = m.has(kAdd) ? m.op(kAdd) : m.op(kSecond);
    const int out = ctx.op(last).outputs[0];
    for (int c = last + 1; c < ctx.ops(); ++c) {
      if (ctx.claimed(c) || ctx.op(c).inputs[0] != out) continue;
      if (is_pointwise(ctx.op(c), false)) {
        m.add(kNext, c);
        break;
      }
      ctx.decline(c, "reads the output of " + ctx.name(last) + " (as next), but is not a stride-1 1x1 convolution");
    }
    // The depthwise layer feeding `first`: its output then lives in a band of scratch.
    const int t = ctx.op(m.op(kFirst)).inputs[0];
    const int d = ctx.producer(t);
    if (d >= 0 && !ctx.claimed(d) && is_depthwise(ctx.graph(), ctx.op(d))) {
      if (ctx.internal(t)) {
        m.add(kDw, d);
      } else {
        ctx.decline(d, "feeds " + ctx.name(m.op(kFirst)) + " (as dw), but its output is read by " +
                           std::to_string(ctx.readers(t)) + " ops");
      }
    }
    if (m.roles.size() == step.roles.size()) return std::nullopt;
    return m;
  }

  StepTensors tensors(const Graph& g, const Match& m) const override {
    StepTensors io;
    io.input = g.ops[m.has(kDw) ? m.op(kDw) : m.op(kFirst)].inputs[0];
    if (m.has(kProjection)) {
      io.shortcut = g.ops[m.op(kProjection)].inputs[0];
    } else if (m.has(kAdd)) {
      io.shortcut = other_addend(g.ops[m.op(kAdd)], g.ops[m.op(kSecond)].outputs[0]);
    }
    io.output = g.ops[m.has(kAdd) ? m.op(kAdd) : m.op(kSecond)].outputs[0];
    if (m.has(kNext)) io.next = g.ops[m.op(kNext)].outputs[0];
    return io;
  }

  std::string step_name(const Graph& g, const Match& m) const override {
    const int first = m.has(kDw) ? m.op(kDw) : m.op(kFirst), last = m.has(kAdd) ? m.op(kAdd) : m.op(kSecond);
    return g.ops[first].name + ".." + g.ops[last].name + (m.has(kNext) ? "+" + g.ops[m.op(kNext)].name : "");
  }

  // An int8 match (plan/fusion.cpp offers int8 ops to this pattern only among themselves)
  // runs as the int8 step of the same shape.
  bool int8_steps() const override { return true; }

  std::unique_ptr<Layer> build(const Graph& g, const Match& m, const KernelTable& table) const override {
    if (touches_int8(g, g.ops[m.op(kSecond)])) {
      QModuleTailOps ops;
      ops.dw = m.op(kDw), ops.first = m.op(kFirst), ops.second = m.op(kSecond);
      ops.projection = m.op(kProjection), ops.add = m.op(kAdd), ops.next = m.op(kNext);
      return make_qmodule_tail_layer(g, ops, table.isa);
    }
    return std::make_unique<PwpwLayer>(g, m, table);
  }
};

}  // namespace

const Pattern& module_tail_pattern() {
  static const ModuleTail pattern;
  return pattern;
}

}  // namespace attocore
