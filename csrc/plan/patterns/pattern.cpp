#include "plan/patterns/pattern.h"

#include "plan/op_macs.h"

namespace attocore {

int Match::op(std::string_view role) const {
  for (const RoleOp& r : roles)
    if (role == r.role) return r.op;
  return -1;
}

Match& Match::add(const char* role, int op) {
  roles.push_back({role, op});
  return *this;
}

const char* Match::role_of(int op) const {
  for (const RoleOp& r : roles)
    if (r.op == op) return r.role;
  return nullptr;
}

FusionContext::FusionContext(const Graph& g)
    : graph_(g),
      producer_(g.tensors.size(), -1),
      readers_(g.tensors.size(), 0),
      last_reader_(g.tensors.size(), -1),
      claimed_(g.ops.size(), false),
      reasons_(g.ops.size()) {
  for (int i = 0; i < int(g.ops.size()); ++i) {
    producer_[g.ops[i].outputs[0]] = i;
    for (int t : g.ops[i].inputs) ++readers_[t], last_reader_[t] = i;
  }
}

std::nullopt_t FusionContext::decline(int op, std::string why) {
  reasons_[op].push_back({pattern_, std::move(why)});
  return std::nullopt;
}

int64_t Pattern::macs(const Graph& graph, const Match& m) const {
  int64_t total = 0;
  for (const RoleOp& r : m.roles) total += op_macs(graph, graph.ops[r.op]);
  return total;
}

bool is_pointwise(const OpInfo& op, bool allow_stride) {
  if (op.type != OpType::kConv2d) return false;
  const WindowAttrs& w = op.window;
  const bool unit_stride = w.stride_h == 1 && w.stride_w == 1;
  return w.kernel_h == 1 && w.kernel_w == 1 && w.groups == 1 && w.pad_top == 0 && w.pad_left == 0 &&
         w.pad_bottom == 0 && w.pad_right == 0 && (unit_stride || (allow_stride && w.stride_h == w.stride_w));
}

bool is_dense_on_gemm(const Graph& g, const OpInfo& op) {
  const WindowAttrs& w = op.window;
  return op.type == OpType::kConv2d && w.groups == 1 && w.dilation_h == 1 && w.dilation_w == 1 &&
         op.inputs[0] != g.input;
}

bool is_depthwise(const Graph& g, const OpInfo& op) {
  if (op.type != OpType::kConv2d) return false;
  const int64_t in_c = g.tensors[op.inputs[0]].shape[1], out_c = g.tensors[op.outputs[0]].shape[1];
  return op.window.groups > 1 && op.window.groups == in_c && out_c % in_c == 0;
}

int other_addend(const OpInfo& add, int tensor) { return add.inputs[0] == tensor ? add.inputs[1] : add.inputs[0]; }

namespace {

// Whether `conv`, producing addend `t` of an add, can carry that add (claims aside).
bool carries_add(const FusionContext& ctx, int conv, int t) {
  const OpInfo& c = ctx.op(conv);
  return is_dense_on_gemm(ctx.graph(), c) && c.activation == Activation::kNone && ctx.internal(t);
}

}  // namespace

int residual_add(const FusionContext& ctx, int conv, std::string* why) {
  const Graph& g = ctx.graph();
  const OpInfo& c = ctx.op(conv);
  const int t = c.outputs[0];
  if (!is_dense_on_gemm(g, c)) {
    *why = c.type != OpType::kConv2d ? "not a convolution"
           : c.inputs[0] == g.input  ? "reads the network input (the stem kernels take it)"
                                     : "not a dense convolution on the GEMM kernels";
    return -1;
  }
  if (c.activation != Activation::kNone) return *why = "has an activation of its own", -1;
  if (!ctx.internal(t)) {
    *why = g.is_output(t) ? "its output is one of the network's" : "its output is read by " + std::to_string(ctx.readers(t)) + " ops";
    return -1;
  }
  const int a = ctx.last_reader(t);
  if (ctx.op(a).type != OpType::kAdd) return *why = "read by " + ctx.name(a) + ", not an add", -1;
  if (ctx.claimed(a)) return *why = "its add " + ctx.name(a) + " is taken", -1;
  if (ctx.op(a).inputs[1] == t) {  // the second addend: the first takes the add if it can
    const int t0 = ctx.op(a).inputs[0], c0 = ctx.producer(t0);
    if (c0 >= 0 && !ctx.claimed(c0) && carries_add(ctx, c0, t0))
      return *why = "its add " + ctx.name(a) + " goes with " + ctx.name(c0) + ", its first addend", -1;
  }
  return a;
}

}  // namespace attocore
