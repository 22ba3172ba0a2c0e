// The fusion planner on small graphs built here: which pattern takes which ops under which
// role, the step's tensors by port and its name, the priorities between patterns (the
// module tail's add before conv_residual, a conv's residual add before riding along as a
// tail's next, an add with two convolutions going with its first addend, a 1x1 fed by a
// depthwise joining that depthwise before any expansion), and that the report names the
// pattern that took each op or gives, for an op left alone, each pattern's reason (lines
// checked up to the last pattern's reason, so that a pattern added to the list may add its own).
#include <string>
#include <vector>

#include "plan/fusion.h"
#include "plan/patterns/pattern_list.h"
#include "test_harness.h"

using namespace attocore;

namespace {

// Graphs of named ops; only what the planner reads is filled in (no weight data).
struct Builder {
  Graph g;
  explicit Builder(int c, int hw) {
    g.metadata.name = "test";
    g.input = tensor({1, c, hw, hw});
  }
  int tensor(std::vector<int64_t> shape, bool constant = false) {
    TensorInfo t;
    t.name = "t" + std::to_string(g.tensors.size());
    t.constant = constant;
    t.elements = 1;
    for (int64_t d : shape) t.elements *= d;
    t.shape = std::move(shape);
    g.tensors.push_back(t);
    return int(g.tensors.size()) - 1;
  }
  const std::vector<int64_t>& shape(int t) const { return g.tensors[t].shape; }
  int op(OpType type, const std::string& name, std::vector<int> inputs, std::vector<int64_t> out_shape,
         Activation act = Activation::kNone, WindowAttrs w = {}) {
    OpInfo op;
    op.type = type, op.name = name, op.activation = act, op.window = w;
    op.inputs = std::move(inputs);
    op.outputs = {tensor(std::move(out_shape))};
    g.ops.push_back(op);
    g.output = op.outputs[0];
    g.outputs = {g.output};
    return op.outputs[0];
  }
  // A convolution with a kxk window (padding k / 2) and a bias.
  int conv(const std::string& name, int x, int out_c, int k = 1, int stride = 1, int groups = 1,
           Activation act = Activation::kNone) {
    WindowAttrs w;
    w.kernel_h = w.kernel_w = k;
    w.stride_h = w.stride_w = stride;
    w.pad_top = w.pad_left = w.pad_bottom = w.pad_right = k / 2;
    w.groups = groups;
    const auto& s = shape(x);
    const int64_t in_c = s[1], oh = (s[2] - 1) / stride + 1, ow = (s[3] - 1) / stride + 1;
    const int weight = tensor({out_c, in_c / groups, k, k}, true), bias = tensor({out_c}, true);
    return op(OpType::kConv2d, name, {x, weight, bias}, {1, out_c, oh, ow}, act, w);
  }
  int relu_conv(const std::string& name, int x, int out_c, int k = 1, int stride = 1, int groups = 1) {
    return conv(name, x, out_c, k, stride, groups, Activation::kRelu);
  }
  int depthwise(const std::string& name, int x, int multiplier, int stride = 1) {
    const int c = int(shape(x)[1]);
    return relu_conv(name, x, c * multiplier, 3, stride, c);
  }
  int add(const std::string& name, int a, int b) {
    return op(OpType::kAdd, name, {a, b}, shape(a), Activation::kRelu);
  }
  int pool(const std::string& name, int x) { return op(OpType::kMaxPool2d, name, {x}, shape(x)); }
  int index(const std::string& name) const {
    for (int i = 0; i < int(g.ops.size()); ++i)
      if (g.ops[i].name == name) return i;
    std::fprintf(stderr, "no op %s\n", name.c_str());
    std::exit(2);
  }
  int out(const std::string& name) const { return g.ops[index(name)].outputs[0]; }
};

std::vector<std::string> step_names(const Graph& g, const FusionPlan& plan) {
  std::vector<std::string> names;
  for (const Match& m : plan.steps) names.push_back(m.pattern->step_name(g, m));
  return names;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : " | ") + x;
  return s;
}

#define CHECK_STEPS(g, plan, ...)                                                              \
  do {                                                                                         \
    const std::vector<std::string> want = __VA_ARGS__;                                         \
    CHECK_MSG(step_names(g, plan) == want, "steps %s, want %s", joined(step_names(g, plan)).c_str(), \
              joined(want).c_str());                                                           \
  } while (0)

// The pattern and role that took op `name`.
void check_taken(const Builder& b, const FusionPlan& plan, const std::string& name, const Pattern& pattern,
                 const char* role) {
  const FusionPlan::OpReport& r = plan.ops[b.index(name)];
  const Match& step = plan.steps[r.step];
  CHECK_MSG(step.pattern == &pattern && std::string(r.role) == role, "op %s taken by %s as %s, want %s as %s",
            name.c_str(), step.pattern->name(), r.role, pattern.name(), role);
}

const Match& step_of(const Builder& b, const FusionPlan& plan, const std::string& name) {
  return plan.steps[plan.ops[b.index(name)].step];
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Every op left alone (and not kept out) has a reason from every pattern that seeds.
void check_every_alone_op_has_reasons(const Builder& b, const FusionPlan& plan) {
  for (int op = 0; op < int(b.g.ops.size()); ++op) {
    const FusionPlan::OpReport& r = plan.ops[op];
    if (plan.steps[r.step].pattern != &single_op_pattern() || !r.kept.empty()) continue;
    for (const Pattern* p : fused_patterns()) {
      if (!p->seeds()) continue;
      bool found = false;
      for (const FusionContext::Reason& why : r.declined) found = found || (why.pattern == p && !why.text.empty());
      CHECK_MSG(found, "op %s alone without a reason from %s", b.g.ops[op].name.c_str(), p->name());
    }
  }
}

// Two AttoNet modules: module 1 with a projection shortcut, module 2 with an identity one.
void attonet_modules() {
  Builder b(3, 16);
  const int stem = b.relu_conv("stem", b.g.input, 8, 3, 2);
  const int pool = b.pool("pool", stem);
  const int c1 = b.relu_conv("m1.compress", pool, 8);
  const int g1 = b.depthwise("m1.group", c1, 4);
  const int x1 = b.relu_conv("m1.mix", g1, 16);
  const int d1 = b.conv("m1.decompress", x1, 24);
  const int p1 = b.conv("m1.project", pool, 24);
  const int a1 = b.add("m1.add", d1, p1);
  const int c2 = b.relu_conv("m2.compress", a1, 8);
  const int g2 = b.depthwise("m2.group", c2, 2);
  const int x2 = b.relu_conv("m2.mix", g2, 16);
  const int d2 = b.conv("m2.decompress", x2, 24);
  const int a2 = b.add("m2.add", d2, a1);
  b.op(OpType::kGlobalAvgPool, "gap", {a2}, {1, 24, 1, 1});
  const FusionPlan plan = plan_fusion(b.g);
  CHECK_STEPS(b.g, plan, {"stem", "pool", "m1.compress", "m1.group..m1.add+m2.compress", "m2.group..m2.add", "gap"});
  const Pattern& tail = module_tail_pattern();
  check_taken(b, plan, "m1.group", tail, "dw");
  check_taken(b, plan, "m1.mix", tail, "first");
  check_taken(b, plan, "m1.decompress", tail, "second");
  check_taken(b, plan, "m1.project", tail, "projection");
  check_taken(b, plan, "m1.add", tail, "add");
  check_taken(b, plan, "m2.compress", tail, "next");
  check_taken(b, plan, "m1.compress", single_op_pattern(), "op");
  const Match& s1 = step_of(b, plan, "m1.mix");
  const StepTensors io1 = tail.tensors(b.g, s1);
  CHECK(io1.input == c1 && io1.shortcut == pool && io1.output == a1 && io1.next == c2);
  const StepTensors io2 = tail.tensors(b.g, step_of(b, plan, "m2.mix"));
  CHECK(io2.input == c2 && io2.shortcut == a1 && io2.output == a2 && io2.next < 0);
  CHECK(s1.position == b.index("m1.add"));
  // The step's multiply-adds are its ops'.
  const int64_t want_macs = 8 * 8 * (32 * 9 + 16 * 32 + 24 * 16 + 24 * 8) + 8 * 8 * 8 * 24;  // 8x8 after the stem
  CHECK_MSG(tail.macs(b.g, s1) == want_macs, "module tail macs %lld, want %lld", (long long)tail.macs(b.g, s1),
            (long long)want_macs);
  (void)g1, (void)x1, (void)d1, (void)p1, (void)g2, (void)x2, (void)d2;

  check_every_alone_op_has_reasons(b, plan);
  const std::string report = fusion_report(b.g, plan);
  CHECK(contains(report, "fusion: 'test': 14 ops in 6 steps\n"));
  CHECK(contains(report, "fusion: op 'm1.mix' taken by module_tail (as first) in step 'm1.group..m1.add+m2.compress'\n"));
  CHECK(contains(report, "fusion: op 'm1.compress' alone: declined by module_tail: input from 'pool', not a stride-1 1x1 "
                         "convolution; by dw_conv1x1: input from 'pool', not a depthwise convolution; by "
                         "scaled_conv1x1: not a mul; by conv_residual: has an activation of its own"));
  CHECK(contains(report, "fusion: op 'gap' alone: declined by module_tail: not a stride-1 1x1 convolution / reads the "
                         "output of 'm2.add' (as next), but is not a stride-1 1x1 convolution;"));
  int lines = 0;
  for (char c : report) lines += c == '\n';
  CHECK_MSG(lines == 1 + int(b.g.ops.size()), "report of %d lines for %zu ops", lines, b.g.ops.size());

  // An op kept out of fusion stays alone; the decompression then carries the add alone.
  FusionOptions keep;
  keep.keep_single.assign(b.g.ops.size(), false);
  keep.keep_single[b.index("m1.mix")] = true;
  keep.kept_because = "kept for the test";
  const FusionPlan kept = plan_fusion(b.g, keep);
  CHECK_STEPS(b.g, kept, {"stem", "pool", "m1.compress", "m1.group", "m1.mix", "m1.project", "m1.decompress+m1.add",
                          "m2.compress", "m2.group..m2.add", "gap"});
  const std::string kept_report = fusion_report(b.g, kept);
  CHECK(contains(kept_report, "fusion: op 'm1.mix' alone: kept for the test\n"));
  CHECK(contains(kept_report, "fusion: op 'm1.group' alone: declined by module_tail: not a stride-1 1x1 convolution;"));
  CHECK(contains(kept_report, "fusion: op 'm1.project' alone: declined by module_tail: input from 'pool', not a "
                              "stride-1 1x1 convolution; by dw_conv1x1: input from 'pool', not a depthwise convolution; "
                              "by scaled_conv1x1: not a mul; by conv_residual: its add 'm1.add' is taken"));
  check_every_alone_op_has_reasons(b, kept);

  FusionOptions off;
  off.enable = false;
  const FusionPlan alone = plan_fusion(b.g, off);
  CHECK(alone.steps.size() == b.g.ops.size());
  CHECK(contains(fusion_report(b.g, alone), "fusion: op 'm1.mix' alone: fusion is off\n"));
}

// MobileNet-V2 blocks: the large expansion joins its block; a small one stays apart and its
// depthwise joins the projection with the residual add.
void mobilenet_blocks() {
  Builder b(16, 112);
  const int x = b.pool("in", b.g.input);
  b.relu_conv("b1.expand", x, 96);  // 112 x 112 x 96: 4.6 MiB
  b.depthwise("b1.dw", b.out("b1.expand"), 1);
  const int p1 = b.conv("b1.project", b.out("b1.dw"), 16);
  const int a1 = b.add("b1.add", p1, x);
  const int s = b.pool("down", a1);
  b.relu_conv("b2.expand", s, 32);  // 112 x 112 x 32: 1.5 MiB
  b.depthwise("b2.dw", b.out("b2.expand"), 1);
  b.conv("b2.project", b.out("b2.dw"), 16);
  b.add("b2.add", b.out("b2.project"), s);
  const FusionPlan plan = plan_fusion(b.g);
  CHECK_STEPS(b.g, plan, {"in", "b1.expand..b1.project+b1.add", "down", "b2.expand", "b2.dw..b2.project+b2.add"});
  const Pattern& block = inverted_residual_pattern();
  check_taken(b, plan, "b1.expand", block, "expand");
  check_taken(b, plan, "b1.dw", block, "dw");
  check_taken(b, plan, "b1.project", block, "conv");
  check_taken(b, plan, "b1.add", block, "add");
  check_taken(b, plan, "b2.dw", dw_conv1x1_pattern(), "dw");
  check_taken(b, plan, "b2.add", dw_conv1x1_pattern(), "add");
  const StepTensors io = block.tensors(b.g, step_of(b, plan, "b1.dw"));
  CHECK(io.input == x && io.shortcut == x && io.output == a1 && io.next < 0);
  const std::string report = fusion_report(b.g, plan);
  CHECK(contains(report, "fusion: op 'b2.expand' alone: declined by module_tail: input from 'down', not a stride-1 1x1 "
                         "convolution;"));
  CHECK(contains(report, "by inverted_residual: before the depthwise of 'b2.project' (as expand), but its output "
                         "(1568 KiB an image) is under the 3 MiB where the block in one step pays"));
  check_every_alone_op_has_reasons(b, plan);
}

// MobileNet-V1's chain depthwise -> 1x1 -> depthwise -> 1x1: each 1x1 joins its own
// depthwise, even when it is large enough to be the next block's expansion.
void depthwise_chain() {
  Builder b(96, 112);
  b.depthwise("dw1", b.g.input, 1);
  b.relu_conv("pw1", b.out("dw1"), 96);
  b.depthwise("dw2", b.out("pw1"), 1, 2);
  b.relu_conv("pw2", b.out("dw2"), 32);
  const FusionPlan plan = plan_fusion(b.g);
  CHECK_STEPS(b.g, plan, {"dw1..pw1", "dw2..pw2"});
  check_taken(b, plan, "pw1", dw_conv1x1_pattern(), "conv");
}

// relu(conv1x1(x) + x): the add rides on the convolution that reads its own shortcut.
void self_residual() {
  Builder b(8, 8);
  const int x = b.pool("in", b.g.input);
  const int y = b.conv("mix", x, 8);
  const int a = b.add("add", y, x);
  const FusionPlan plan = plan_fusion(b.g);
  CHECK_STEPS(b.g, plan, {"in", "mix+add"});
  const StepTensors io = conv_residual_pattern().tensors(b.g, step_of(b, plan, "mix"));
  CHECK(io.input == x && io.shortcut == x && io.output == a);
}

// A ResNet block with a projected shortcut: the add goes with the convolution on its first
// input, even when the one on its second input comes first in the graph.
void two_convolutions_into_one_add() {
  for (bool main_first : {true, false}) {
    Builder b(8, 8);
    const int x = b.pool("in", b.g.input);
    const int h = b.relu_conv("c1", x, 16, 3, 2);
    if (main_first) {  // the shortcut's convolution first, the add's first addend second
      const int proj = b.conv("down", x, 16, 1, 2);
      b.add("add", b.conv("c2", h, 16, 3), proj);
    } else {
      const int c2 = b.conv("c2", h, 16, 3);
      b.add("add", b.conv("down", x, 16, 1, 2), c2);
    }
    const FusionPlan plan = plan_fusion(b.g);
    const std::string report = fusion_report(b.g, plan);
    if (main_first) {
      CHECK_STEPS(b.g, plan, {"in", "c1", "down", "c2+add"});
      CHECK(contains(report, "fusion: op 'down' alone: declined by module_tail: not a stride-1 1x1 convolution; by "
                             "dw_conv1x1: not a stride-1 1x1 convolution; by scaled_conv1x1: not a mul; by conv_residual: "
                             "its add 'add' goes with 'c2', its first addend"));
    } else {
      CHECK_STEPS(b.g, plan, {"in", "c1", "c2", "down+add"});
      CHECK(contains(report, "by conv_residual: its add 'add' goes with 'down', its first addend"));
    }
    check_every_alone_op_has_reasons(b, plan);
  }
}

// Four 1x1s in a row make two pairs: the first pair does not take the third as its next,
// since the second pair needs it (seeds before growth).
void chain_of_pointwise() {
  Builder b(8, 8);
  const int x = b.pool("in", b.g.input);
  b.relu_conv("a", x, 8);
  b.relu_conv("b", b.out("a"), 8);
  b.relu_conv("c", b.out("b"), 8);
  b.relu_conv("d", b.out("c"), 8);
  const FusionPlan plan = plan_fusion(b.g);
  CHECK_STEPS(b.g, plan, {"in", "a..b", "c..d"});
}

// A module tail followed by a 1x1 whose residual add is the tail's output: that 1x1 carries
// its add rather than riding along as the tail's next.
void residual_beats_next() {
  Builder b(8, 8);
  const int x = b.pool("in", b.g.input);
  b.relu_conv("mix", x, 8);
  b.conv("decompress", b.out("mix"), 16);
  const int t = b.add("add", b.out("decompress"), b.conv("project", x, 16));
  b.add("add2", b.conv("next", t, 16), t);
  const FusionPlan plan = plan_fusion(b.g);
  CHECK_STEPS(b.g, plan, {"in", "mix..add", "next+add2"});
  check_taken(b, plan, "next", conv_residual_pattern(), "conv");
}

}  // namespace

// The exported CNNs' patterns: a concat's convolutions written in place (one read elsewhere
// and a pool copied in), and a squeeze-and-excitation scale with its projection and residual.
void concat_and_scale() {
  Builder b(8, 8);
  const int x = b.relu_conv("in", b.g.input, 16);
  const int a = b.relu_conv("a", x, 8, 3);
  const int p = b.relu_conv("p", x, 4);
  const int pool = b.pool("pool", x);
  const int shared = b.relu_conv("shared", x, 8);
  const int after = b.relu_conv("after", shared, 4);
  const int cat = b.op(OpType::kConcat, "cat", {a, p, pool, shared, after}, {1, 40, 8, 8});
  const int gap = b.op(OpType::kGlobalAvgPool, "gap", {cat}, {1, 40});
  const int scaled = b.op(OpType::kMul, "scale", {cat, gap}, {1, 40, 8, 8});
  const int proj = b.conv("project", scaled, 40);
  b.add("res", proj, cat);
  const FusionPlan plan = plan_fusion(b.g);
  CHECK_STEPS(b.g, plan, {"in", "pool", "shared", "cat+a+p+after", "gap", "scale+project+res"});
  check_taken(b, plan, "a", concat_in_place_pattern(), "part0");
  check_taken(b, plan, "after", concat_in_place_pattern(), "part4");
  check_taken(b, plan, "res", scaled_conv1x1_pattern(), "add");
  const Match& step = plan.steps[plan.ops[b.index("cat")].step];
  const StepTensors io = concat_in_place_pattern().tensors(b.g, step);
  CHECK(io.input == x && io.shortcut == x && io.more == (std::vector<int>{pool, shared, shared}) && io.output == cat);
  const Match& tail = plan.steps[plan.ops[b.index("res")].step];
  const StepTensors sio = scaled_conv1x1_pattern().tensors(b.g, tail);
  CHECK(sio.input == cat && sio.more == std::vector<int>{gap} && sio.shortcut == cat);
  check_every_alone_op_has_reasons(b, plan);
}

int main() {
  concat_and_scale();
  attonet_modules();
  mobilenet_blocks();
  depthwise_chain();
  self_residual();
  two_convolutions_into_one_add();
  chain_of_pointwise();
  residual_beats_next();
  TEST_MAIN_END();
}
