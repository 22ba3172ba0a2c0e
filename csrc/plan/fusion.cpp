#include "plan/fusion.h"

#include <vector>

namespace attocore {
namespace {

bool is_pointwise(const Graph& g, const OpInfo& op, bool allow_stride) {
  if (op.type != OpType::kConv2d) return false;
  const WindowAttrs& w = op.window;
  const bool unit_stride = w.stride_h == 1 && w.stride_w == 1;
  return w.kernel_h == 1 && w.kernel_w == 1 && w.groups == 1 && w.pad_top == 0 && w.pad_left == 0 &&
         w.pad_bottom == 0 && w.pad_right == 0 && (unit_stride || (allow_stride && w.stride_h == w.stride_w));
}

// A dense convolution the executor runs on the GEMM kernels (directly or through im2col),
// not the network's first one (that one reads the NCHW input: the stem kernels).
bool is_dense_on_gemm(const Graph& g, const OpInfo& op) {
  const WindowAttrs& w = op.window;
  return op.type == OpType::kConv2d && w.groups == 1 && w.dilation_h == 1 && w.dilation_w == 1 &&
         op.inputs[0] != g.input;
}

// Depthwise with any channel multiplier: the ops the executor runs on the dwconv kernels.
bool is_depthwise(const Graph& g, const OpInfo& op) {
  if (op.type != OpType::kConv2d) return false;
  const int64_t in_c = g.tensors[op.inputs[0]].shape[1], out_c = g.tensors[op.outputs[0]].shape[1];
  return op.window.groups > 1 && op.window.groups == in_c && out_c % in_c == 0;
}

}  // namespace

std::vector<FusedOps> plan_fusion(const Graph& g, bool enable, const std::vector<bool>& keep_single) {
  const int n_ops = int(g.ops.size());
  std::vector<int> producer(g.tensors.size(), -1), consumers(g.tensors.size(), 0);
  for (int i = 0; i < n_ops; ++i) {
    producer[g.ops[i].outputs[0]] = i;
    for (int t : g.ops[i].inputs) ++consumers[t];
  }
  // A tensor can be fused away when its only reader is the next op of the pattern.
  auto internal = [&](int tensor) { return consumers[tensor] == 1 && tensor != g.output; };

  std::vector<FusedOps> groups;
  std::vector<int> group_at(n_ops, -1);  // op index -> group placed there
  std::vector<bool> absorbed(n_ops, false);
  // A kept-single op is marked absorbed for matching, then emitted alone below.
  std::vector<bool> pinned(n_ops, false);
  for (int i = 0; i < n_ops && i < int(keep_single.size()); ++i) pinned[i] = absorbed[i] = keep_single[i];
  // Expansions kept for an inverted residual block in one step (kernels/mbconv): a 1x1 whose
  // only reader is a depthwise layer and whose output, per image, is at least
  // kMbConvMinExpandedBytes. Only there did it pay: MobileNet-V2's first expansion
  // (112x112x96, 4.8 MB) with its stride-2 depthwise and projection went from 1.70 to 1.10
  // ms (per-step minimums, 1 thread); blocks of 1.8 MB and less ran 0-5% slower fused than
  // as now (expansion alone or paired with the 1x1 before it, depthwise with the projection).
  std::vector<bool> expansion(n_ops, false);
  if (enable) {
    std::vector<int> reader(g.tensors.size(), -1);
    for (int i = 0; i < n_ops; ++i)
      for (int t : g.ops[i].inputs) reader[t] = i;
    constexpr double kMbConvMinExpandedBytes = 3 << 20;
    for (int e = 0; e < n_ops; ++e) {
      const int t = g.ops[e].outputs[0];
      if (absorbed[e] || !is_pointwise(g, g.ops[e], false) || !internal(t) || reader[t] < 0 ||
          !is_depthwise(g, g.ops[reader[t]]) || g.ops[reader[t]].inputs[0] != t)
        continue;
      const auto& shape = g.tensors[t].shape;
      expansion[e] = 4.0 * double(shape[1]) * double(shape[2]) * double(shape[3]) >= kMbConvMinExpandedBytes;
    }
  }
  if (enable) {
    for (int second = 0; second < n_ops; ++second) {
      const OpInfo& op2 = g.ops[second];
      if (absorbed[second] || expansion[second] || !is_pointwise(g, op2, false)) continue;
      const int first = producer[op2.inputs[0]];
      if (first < 0 || absorbed[first] || !is_pointwise(g, g.ops[first], false) || !internal(op2.inputs[0]))
        continue;
      FusedOps f;
      f.kind = FusedOps::Kind::kPwpw;
      f.first = first;
      f.second = second;
      int last = second;
      const int t2 = op2.outputs[0];
      // Look for the add that consumes the pair's output.
      if (internal(t2) && op2.activation == Activation::kNone) {
        for (int a = second + 1; a < n_ops; ++a) {
          const OpInfo& add = g.ops[a];
          if (absorbed[a] || add.type != OpType::kAdd || (add.inputs[0] != t2 && add.inputs[1] != t2)) continue;
          const int other = add.inputs[0] == t2 ? add.inputs[1] : add.inputs[0];
          const int p = producer[other];
          if (p >= 0 && !absorbed[p] && internal(other) && is_pointwise(g, g.ops[p], true) &&
              g.ops[p].activation == Activation::kNone) {
            f.projection = p;
            f.shortcut = g.ops[p].inputs[0];
          } else {
            f.shortcut = other;
          }
          f.add = a;
          last = a;
          break;
        }
      }
      absorbed[first] = absorbed[second] = true;
      if (f.add >= 0) absorbed[f.add] = true;
      if (f.projection >= 0) absorbed[f.projection] = true;
      group_at[last] = int(groups.size());
      groups.push_back(f);
    }
  }
  if (enable) {
    for (int a = 0; a < n_ops; ++a) {
      const OpInfo& add = g.ops[a];
      if (absorbed[a] || add.type != OpType::kAdd) continue;
      for (int side = 0; side < 2; ++side) {
        const int t = add.inputs[side], other = add.inputs[1 - side];
        const int c = producer[t];
        if (c < 0 || absorbed[c] || group_at[c] >= 0 || !internal(t) || !is_dense_on_gemm(g, g.ops[c]) ||
            g.ops[c].activation != Activation::kNone || other == t)
          continue;
        FusedOps f;
        f.kind = FusedOps::Kind::kConvGemm;
        f.first = c;
        f.add = a;
        f.shortcut = other;
        absorbed[c] = absorbed[a] = true;
        group_at[a] = int(groups.size());
        groups.push_back(f);
        break;
      }
    }
  }
  // Attach to each module tail the next 1x1 convolution that reads its output (AttoNet's
  // next compression): the tile it needs was just written and is still in cache.
  if (enable) {
    for (FusedOps& f : groups) {
      if (f.kind != FusedOps::Kind::kPwpw) continue;
      const int last = f.add >= 0 ? f.add : f.second;
      const int out = g.ops[last].outputs[0];
      for (int c = last + 1; c < n_ops; ++c) {
        const OpInfo& op = g.ops[c];
        if (absorbed[c] || group_at[c] >= 0 || op.inputs[0] != out || !is_pointwise(g, op, false)) continue;
        f.next = c;
        absorbed[c] = true;
        break;
      }
    }
  }
  // Pull into each 1x1 step the depthwise convolution that feeds it (AttoNet's grouped 3x3
  // before its tail, MobileNet's before its projection): its output then lives in a band of
  // the thread's scratch instead of the arena.
  auto feeding_depthwise = [&](int conv) {
    const int t = g.ops[conv].inputs[0];
    const int d = producer[t];
    return d >= 0 && !absorbed[d] && group_at[d] < 0 && internal(t) && is_depthwise(g, g.ops[d]) ? d : -1;
  };
  if (enable) {
    for (FusedOps& f : groups) {
      if (!is_pointwise(g, g.ops[f.first], false)) continue;  // a 3x3 + add (ResNet) takes none
      f.dw = feeding_depthwise(f.first);
      if (f.dw >= 0) absorbed[f.dw] = true;
    }
    for (int c = 0; c < n_ops; ++c) {
      if (absorbed[c] || group_at[c] >= 0 || !is_pointwise(g, g.ops[c], false)) continue;
      const int d = feeding_depthwise(c);
      if (d < 0) continue;
      FusedOps f;
      f.kind = FusedOps::Kind::kConvGemm;
      f.first = c;
      f.dw = d;
      absorbed[c] = absorbed[d] = true;
      group_at[c] = int(groups.size());
      groups.push_back(f);
    }
    // And the expansion before that depthwise (MobileNet's inverted residual block in one step).
    for (FusedOps& f : groups) {
      if (f.kind != FusedOps::Kind::kConvGemm || f.dw < 0) continue;
      const int t = g.ops[f.dw].inputs[0];
      const int e = producer[t];
      if (e < 0 || !expansion[e] || absorbed[e] || group_at[e] >= 0) continue;
      f.expand = e;
      absorbed[e] = true;
    }
  }
  std::vector<FusedOps> order;
  for (int i = 0; i < n_ops; ++i) {
    if (group_at[i] >= 0) {
      order.push_back(groups[group_at[i]]);
    } else if (!absorbed[i] || pinned[i]) {
      FusedOps single;
      single.op = i;
      order.push_back(single);
    }
  }
  return order;
}

}  // namespace attocore
