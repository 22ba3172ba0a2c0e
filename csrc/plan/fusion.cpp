#include "plan/fusion.h"

#include <optional>
#include <utility>

#include "plan/patterns/pattern_list.h"

namespace attocore {

bool touches_int8(const Graph& g, const OpInfo& op) {
  for (int t : op.inputs)
    if (g.tensors[t].dtype != DType::kFloat32) return true;
  return g.tensors[op.outputs[0]].dtype != DType::kFloat32;
}

namespace {

// Every pattern of the pass seeds steps at the ops still free, in list order; then every
// pattern grows the steps formed (in the order they were), in list order.
void form_steps(FusionContext& ctx, bool int8, std::vector<Match>* fused) {
  auto take = [&](const Match& m) {
    for (const RoleOp& r : m.roles) ctx.claim(r.op);
  };
  std::vector<Match> formed;
  for (const Pattern* p : fused_patterns()) {
    if (!p->seeds() || (int8 && !p->int8_steps())) continue;
    ctx.set_pattern(p);
    for (int op = 0; op < ctx.ops(); ++op) {
      if (ctx.claimed(op)) continue;
      if (std::optional<Match> m = p->seed(ctx, op)) {
        take(*m);
        formed.push_back(std::move(*m));
      }
    }
  }
  for (const Pattern* p : fused_patterns()) {
    if (int8 && !p->int8_steps()) continue;
    ctx.set_pattern(p);
    for (Match& step : formed)
      if (std::optional<Match> m = p->grow(ctx, step)) {
        take(*m);
        step = std::move(*m);
      }
  }
  for (Match& m : formed) fused->push_back(std::move(m));
}

}  // namespace

FusionPlan plan_fusion(const Graph& g, const FusionOptions& options) {
  const int n = int(g.ops.size());
  FusionPlan plan;
  plan.ops.resize(n);
  std::vector<bool> kept(n, false);
  for (int i = 0; i < n && i < int(options.keep_single.size()); ++i)
    if (options.keep_single[i]) kept[i] = true, plan.ops[i].kept = options.kept_because;
  std::vector<Match> fused;
  // Two passes: the float ops with every pattern, then the int8 ops with the patterns that
  // have int8 steps (Pattern::int8_steps), each pass blind to the other's ops, so that no
  // step mixes float and int8 ops.
  FusionContext float_ctx(g), int8_ctx(g);
  for (int i = 0; i < n; ++i) {
    const bool int8 = touches_int8(g, g.ops[i]);
    if (kept[i] || int8) float_ctx.claim(i);
    if (kept[i] || !int8) int8_ctx.claim(i);
  }
  if (options.enable) {
    form_steps(float_ctx, false, &fused);
    form_steps(int8_ctx, true, &fused);
  } else {
    for (FusionPlan::OpReport& r : plan.ops)
      if (r.kept.empty()) r.kept = options.disabled_because;
  }
  // Each fused step where its position op stood, every op left (or kept) alone at its own.
  std::vector<int> step_at(n, -1);
  std::vector<bool> in_fused(n, false);
  for (int i = 0; i < int(fused.size()); ++i) {
    step_at[fused[i].position] = i;
    for (const RoleOp& r : fused[i].roles) in_fused[r.op] = true;
  }
  for (int op = 0; op < n; ++op) {
    if (step_at[op] >= 0) {
      plan.steps.push_back(std::move(fused[step_at[op]]));
    } else if (!in_fused[op]) {
      plan.steps.push_back(single_op_match(op));
    }
  }
  for (int s = 0; s < int(plan.steps.size()); ++s)
    for (const RoleOp& r : plan.steps[s].roles) plan.ops[r.op].step = s, plan.ops[r.op].role = r.role;
  for (int op = 0; op < n; ++op) {
    plan.ops[op].declined = float_ctx.reasons(op);
    for (const FusionContext::Reason& r : int8_ctx.reasons(op)) plan.ops[op].declined.push_back(r);
  }
  return plan;
}

std::string fusion_report(const Graph& g, const FusionPlan& plan) {
  std::string out = "fusion: '" + g.metadata.name + "': " + std::to_string(g.ops.size()) + " ops in " +
                    std::to_string(plan.steps.size()) + " steps\n";
  for (int op = 0; op < int(g.ops.size()); ++op) {
    const FusionPlan::OpReport& r = plan.ops[op];
    const Match& step = plan.steps[r.step];
    out += "fusion: op '" + g.ops[op].name + "' ";
    if (step.pattern != &single_op_pattern()) {
      out += std::string("taken by ") + step.pattern->name() + " (as " + r.role + ") in step '" +
             step.pattern->step_name(g, step) + "'\n";
      continue;
    }
    out += "alone: ";
    if (!r.kept.empty()) {
      out += r.kept + "\n";
      continue;
    }
    // The reasons by pattern, in list order.
    bool first_pattern = true;
    for (const Pattern* p : fused_patterns()) {
      bool first_reason = true;
      for (const FusionContext::Reason& why : r.declined) {
        if (why.pattern != p) continue;
        if (first_reason) out += std::string(first_pattern ? "declined by " : "; by ") + p->name() + ": ";
        out += (first_reason ? "" : " / ") + why.text;
        first_reason = first_pattern = false;
      }
    }
    out += "\n";
  }
  return out;
}

}  // namespace attocore
