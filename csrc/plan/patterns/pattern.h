// A fused-step pattern: which ops of the graph one step computes, under which role, and how
// that step is built. Each pattern lives in one file of plan/patterns/ (its matching, its
// tensors by port, its display name and its layer), listed in pattern_list.inc; the planner
// (plan/fusion.h) walks that list.
//
// A pattern may seed steps (seed(): tried at every op not yet claimed, op by op) and grow
// steps already formed by taking more ops along (grow()). The planner lets every pattern
// seed, in list order, before any grows, so an op that one pattern needs for a step of its
// own is never taken along by another step; the ops left over run alone (single_op.cpp).
// When a pattern passes over an op it says why (FusionContext::decline), for the
// ATTOCORE_LOG=fusion report.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "exec/layer.h"
#include "graph/graph.h"
#include "kernels/dispatch/kernel_table.h"

namespace attocore {

class Pattern;

struct RoleOp {
  const char* role;
  int op;
};

// The ops of one step by role ("first", "add", ...: each pattern names its own).
struct Match {
  const Pattern* pattern = nullptr;
  std::vector<RoleOp> roles;  // each op of the step once
  int position = -1;          // the op whose place in execution order the step takes

  explicit Match(const Pattern* p = nullptr) : pattern(p) {}
  int op(std::string_view role) const;  // -1 when the step has no op in that role
  bool has(std::string_view role) const { return op(role) >= 0; }
  Match& add(const char* role, int op);
  const char* role_of(int op) const;  // nullptr when the op is not in the step
};

// The graph as the patterns see it while the planner runs: who produces and reads each
// tensor, which ops steps have claimed, and the reasons patterns gave for passing ops over.
class FusionContext {
 public:
  explicit FusionContext(const Graph& graph);
  const Graph& graph() const { return graph_; }
  const OpInfo& op(int i) const { return graph_.ops[i]; }
  int ops() const { return int(graph_.ops.size()); }
  int producer(int tensor) const { return producer_[tensor]; }  // -1: the graph input, a constant
  int readers(int tensor) const { return readers_[tensor]; }    // op inputs reading it
  int last_reader(int tensor) const { return last_reader_[tensor]; }
  // Read by one op only and not a graph output: a step holding both ends may keep it to
  // itself (it never reaches the arena).
  bool internal(int tensor) const { return readers_[tensor] == 1 && !graph_.is_output(tensor); }
  bool claimed(int op) const { return claimed_[op]; }
  // "'name'", for reasons.
  std::string name(int op) const { return "'" + graph_.ops[op].name + "'"; }
  // Why the pattern being tried passes over `op`; returns nullopt, so a pattern can write
  // `return ctx.decline(op, "...")`.
  std::nullopt_t decline(int op, std::string why);

  // The planner's side.
  void claim(int op) { claimed_[op] = true; }
  void set_pattern(const Pattern* p) { pattern_ = p; }
  struct Reason {
    const Pattern* pattern;
    std::string text;
  };
  const std::vector<Reason>& reasons(int op) const { return reasons_[op]; }

 private:
  const Graph& graph_;
  std::vector<int> producer_, readers_, last_reader_;
  std::vector<bool> claimed_;
  const Pattern* pattern_ = nullptr;
  std::vector<std::vector<Reason>> reasons_;
};

class Pattern {
 public:
  virtual ~Pattern() = default;
  virtual const char* name() const = 0;
  // A step around op (not yet claimed), or nullopt after ctx.decline(op, why).
  virtual std::optional<Match> seed(FusionContext& ctx, int op) const { return std::nullopt; }
  virtual bool seeds() const { return true; }  // false: grow() only
  // Whether it also forms steps of int8 ops (built as int8 steps); the planner offers it the
  // int8 ops in a pass of their own, where it sees no float op (plan/fusion.cpp).
  virtual bool int8_steps() const { return false; }
  // `step` with more ops (possibly as a step of this pattern), or nullopt to leave it.
  virtual std::optional<Match> grow(FusionContext& ctx, const Match& step) const { return std::nullopt; }

  // What the step reads and writes, by port.
  virtual StepTensors tensors(const Graph& graph, const Match& m) const = 0;
  // The step's name in profiles: its ops' names ("first..last", "+" for ops riding along).
  virtual std::string step_name(const Graph& graph, const Match& m) const = 0;
  virtual std::unique_ptr<Layer> build(const Graph& graph, const Match& m, const KernelTable& table) const = 0;
  // Multiply-adds at batch 1: its ops' (op_macs), whatever the pattern.
  int64_t macs(const Graph& graph, const Match& m) const;
};

// What patterns ask of an op.
bool is_pointwise(const OpInfo& op, bool allow_stride);  // a 1x1 convolution, groups 1, no padding
bool is_depthwise(const Graph& g, const OpInfo& op);     // groups = input channels, any multiplier
// A dense convolution the GEMM kernels run (directly or through im2col), other than one
// reading the network's input (the stem kernels take that one).
bool is_dense_on_gemm(const Graph& g, const OpInfo& op);
// The add whose epilogue the GEMM of `conv` can run: conv is a dense convolution on the
// GEMM kernels without an activation of its own and its output goes only to that add (not
// claimed); an add of two such convolutions goes with the one on its first input. -1
// otherwise, with the reason in *why.
int residual_add(const FusionContext& ctx, int conv, std::string* why);
// The addend of `add` other than `tensor`.
int other_addend(const OpInfo& add, int tensor);

}  // namespace attocore
