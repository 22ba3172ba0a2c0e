// Groups the graph's ops into executable steps by the fused-step patterns of
// plan/patterns/ (pattern_list.inc: the module tail, depthwise + 1x1, a convolution with its
// residual add, the inverted residual block), tried in the list's order; every op they leave
// runs alone. Also reports, per op, which pattern took it or why each passed it over
// (ATTOCORE_LOG=fusion prints that report).
#pragma once
#include <string>
#include <vector>

#include "graph/graph.h"
#include "plan/patterns/pattern.h"

namespace attocore {

struct FusionOptions {
  bool enable = true;
  std::string disabled_because = "fusion is off";  // for the report
  // Ops (indexed by op; may be shorter than the graph) never fused, and why.
  std::vector<bool> keep_single;
  std::string kept_because = "kept out of fusion by the caller";
};

struct FusionPlan {
  struct OpReport {
    int step = -1;               // index into steps
    const char* role = nullptr;  // its role in that step
    std::vector<FusionContext::Reason> declined;  // patterns that passed it over, and why
    std::string kept;            // non-empty: never offered to the patterns, and why
  };
  std::vector<Match> steps;    // in execution order: each where its `position` op stood
  std::vector<OpReport> ops;   // per graph op
};

// Whether an op reads or writes an int8 (or int32) tensor: such ops are fused only with each
// other, by the patterns with int8 steps.
bool touches_int8(const Graph& g, const OpInfo& op);

FusionPlan plan_fusion(const Graph& graph, const FusionOptions& options = {});

// One line per op: "fusion: op 'm3.mix' taken by module_tail (as first) in step '...'", or
// "fusion: op 'm1.compress' alone: declined by module_tail: ...; by conv_residual: ...".
std::string fusion_report(const Graph& graph, const FusionPlan& plan);

}  // namespace attocore
