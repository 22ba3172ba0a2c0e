#include "format/validate.h"

#include <algorithm>

#include "format/limits.h"
#include "util/error.h"
#include "util/finite.h"

namespace attocore {
namespace {

struct AttrRule {
  const char* key;
  size_t values;
  bool required;
};

// docs/FORMAT.md's op table; attocore/graph.py's OP_ATTRS and OPTIONAL_ATTRS say the same.
std::vector<AttrRule> attribute_rules(OpType type) {
  switch (type) {
    case OpType::kConv2d:
      return {{"kernel", 2, true}, {"stride", 2, true}, {"pad", 4, true}, {"dilation", 2, false}, {"groups", 1, true}};
    case OpType::kMaxPool2d: return {{"kernel", 2, true}, {"stride", 2, true}, {"pad", 4, true}};
    case OpType::kAvgPool2d:
      return {{"kernel", 2, true}, {"stride", 2, true}, {"pad", 4, true}, {"count_include_pad", 1, false}};
    case OpType::kGlobalAvgPool:
    case OpType::kFullyConnected:
    case OpType::kAdd:
    case OpType::kActivation:
    case OpType::kMul: return {};
  }
  return {};
}

[[noreturn]] void op_fail(const OpInfo& op, const std::string& msg) {
  fail(ErrorCode::kGraph, "op '" + op.name + "' (" + op_type_name(op.type) + "): " + msg);
}

void set_window(WindowAttrs& w, const std::string& key, const std::vector<int64_t>& v) {
  if (key == "kernel") {
    w.kernel_h = int(v[0]), w.kernel_w = int(v[1]);
  } else if (key == "stride") {
    w.stride_h = int(v[0]), w.stride_w = int(v[1]);
  } else if (key == "pad") {
    w.pad_top = int(v[0]), w.pad_left = int(v[1]), w.pad_bottom = int(v[2]), w.pad_right = int(v[3]);
  } else if (key == "dilation") {
    w.dilation_h = int(v[0]), w.dilation_w = int(v[1]);
  } else if (key == "groups") {
    w.groups = int(v[0]);
  } else if (key == "count_include_pad") {
    w.count_include_pad = int(v[0]);
  }
}

int64_t class_count(const Graph& g) {
  const TensorInfo& out = g.tensors[g.output];
  return out.elements / out.shape[0];
}

}  // namespace

bool is_utf8_text(const uint8_t* s, size_t n) {
  size_t i = 0;
  while (i < n) {
    const uint8_t c = s[i];
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    // Lead byte: sequence length and the range its first continuation byte may take (which
    // excludes overlong forms, surrogates U+D800..DFFF and code points past U+10FFFF).
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (n - i < len || s[i + 1] < lo || s[i + 1] > hi) return false;
    for (size_t k = 2; k < len; ++k)
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return false;
    i += len;
  }
  return true;
}

void apply_attribute(OpInfo& op, const std::string& key, const std::vector<int64_t>& values) {
  if (std::find(op.attributes.begin(), op.attributes.end(), key) != op.attributes.end())
    op_fail(op, "attribute '" + key + "' appears twice");
  const std::vector<AttrRule> rules = attribute_rules(op.type);
  auto rule = std::find_if(rules.begin(), rules.end(), [&](const AttrRule& r) { return key == r.key; });
  if (rule == rules.end()) op_fail(op, "unknown attribute '" + key + "'");
  if (values.size() != rule->values)
    op_fail(op, "attribute '" + key + "' holds " + std::to_string(values.size()) + " values, not " +
                    std::to_string(rule->values));
  for (int64_t v : values)
    if (v < 0 || v > limits::kMaxAttrValue) op_fail(op, "attribute '" + key + "' value out of range");
  if (key == "count_include_pad" && values[0] > 1) op_fail(op, "attribute 'count_include_pad' must be 0 or 1");
  op.attributes.push_back(key);
  set_window(op.window, key, values);
}

void validate_model(const Graph& g) {
  for (const OpInfo& op : g.ops) {
    for (const AttrRule& rule : attribute_rules(op.type))
      if (rule.required && std::find(op.attributes.begin(), op.attributes.end(), rule.key) == op.attributes.end())
        op_fail(op, std::string("missing attribute '") + rule.key + "'");
    // The kernels' epilogues clamp; a smooth activation is a step of its own.
    if (!is_clamp(op.activation) && op.type != OpType::kActivation)
      fail(ErrorCode::kUnsupported, "op '" + op.name + "' (" + op_type_name(op.type) + "): activation " +
                                        activation_name(op.activation) + " only on an activation op");
  }
  validate_graph(g);
  const size_t labels = g.metadata.labels.size();
  if (labels != 0 && int64_t(labels) != class_count(g))
    fail(ErrorCode::kGraph, std::to_string(labels) + " labels for " + std::to_string(class_count(g)) +
                                " classes (give one label per class, or none)");
  for (const TensorInfo& t : g.tensors)
    if (t.constant && !all_finite(t.data, size_t(t.elements)))
      fail(ErrorCode::kFormat, "constant '" + t.name + "' holds NaN or infinity");
}

}  // namespace attocore
