#include "format/validate.h"

#include <algorithm>

#include "format/limits.h"
#include "util/error.h"
#include "util/finite.h"
#include "kernels/qgemm/qgemm.h"  // kMaxInt8Reduction, kMaxInt8Bias

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
    case OpType::kSlice: return {{"channels", 2, true}, {"axis", 1, false}};
    case OpType::kConcat:
    case OpType::kSoftmax: return {{"axis", 1, false}};
    case OpType::kTranspose: return {{"perm", 4, true}};
    case OpType::kEltwiseConst: return {{"kind", 1, true}, {"swap", 1, false}};
    case OpType::kReduceMean: return {{"axes", 1, true}};
    case OpType::kReshape: return {};
    case OpType::kChannelShuffle: return {{"groups", 1, true}};
    case OpType::kResize: return {{"scale", 2, true}, {"mode", 1, true}};
    case OpType::kConvTranspose:
      return {{"kernel", 2, true}, {"stride", 2, true}, {"pad", 4, true}, {"dilation", 2, false},
              {"groups", 1, true}, {"output_pad", 2, false}};
    case OpType::kPad: return {{"pad", 4, true}};
    case OpType::kGlobalAvgPool:
    case OpType::kFullyConnected:
    case OpType::kAdd:
    case OpType::kActivation:
    case OpType::kMul:
    case OpType::kQuantize:
    case OpType::kDequantize:
    case OpType::kPrelu:
    case OpType::kClip: return {};
  }
  return {};
}

[[noreturn]] void op_fail(const OpInfo& op, const std::string& msg) {
  fail(ErrorCode::kGraph, "op '" + op.name + "' (" + op_type_name(op.type) + "): " + msg);
}

void set_attribute(OpInfo& op, const std::string& key, const std::vector<int64_t>& v) {
  WindowAttrs& w = op.window;
  if (key == "channels") {
    op.attrs.begin = int(v[0]), op.attrs.end = int(v[1]);
  } else if (key == "scale") {
    op.attrs.scale_h = int(v[0]), op.attrs.scale_w = int(v[1]);
  } else if (key == "mode") {
    op.attrs.mode = ResizeMode(v[0]);
  } else if (key == "output_pad") {
    w.output_pad_h = int(v[0]), w.output_pad_w = int(v[1]);
  } else if (key == "kernel") {
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
  } else if (key == "axis") {
    op.attrs.axis = int(v[0]);
  } else if (key == "perm") {
    for (int k = 0; k < 4; ++k) op.attrs.perm[k] = int(v[size_t(k)]);
  } else if (key == "kind") {
    op.attrs.kind = EltwiseKind(v[0]);
  } else if (key == "swap") {
    op.attrs.swap = v[0] != 0;
  } else if (key == "axes") {
    op.attrs.axes = int(v[0]);
  }
}

// Requantization multipliers (docs/QUANTIZATION.md) must be normal floats well inside fp32's
// range: ARMv7's NEON flushes subnormals to zero, and a product of one with an integer sum
// must give the same bits on every instruction set.
constexpr float kMinMultiplier = 0x1p-40f, kMaxMultiplier = 0x1p20f;

void check_multiplier(const OpInfo& op, float m, const char* what) {
  if (!(m >= kMinMultiplier && m <= kMaxMultiplier))
    fail(ErrorCode::kFormat, "op '" + op.name + "' (" + op_type_name(op.type) + "): requantization multiplier " +
                                 what + " = " + std::to_string(m) + " is outside [2^-40, 2^20] (scales too far apart)");
}

// The element types an op's tensors may have (docs/FORMAT.md, "int8 ops"), then the int8
// ones' limits: reduction depth, bias range and requantization multipliers.
void check_dtypes(const Graph& g, const OpInfo& op) {
  auto tensor = [&](size_t i) -> const TensorInfo& { return g.tensors[op.inputs[i]]; };
  const TensorInfo& x = tensor(0);
  const TensorInfo& y = g.tensors[op.outputs[0]];
  auto need = [&](bool ok, const std::string& msg) {
    if (!ok) fail(ErrorCode::kGraph, "op '" + op.name + "' (" + op_type_name(op.type) + "): " + msg);
  };
  const std::string types = std::string(dtype_name(x.dtype)) + " -> " + dtype_name(y.dtype);
  switch (op.type) {
    case OpType::kQuantize: need(x.dtype == DType::kFloat32 && y.is_int8(), "takes float32 to int8, not " + types); return;
    case OpType::kDequantize: need(x.is_int8() && y.dtype == DType::kFloat32, "takes int8 to float32, not " + types); return;
    case OpType::kActivation:
    case OpType::kAvgPool2d:
    case OpType::kMul:
    case OpType::kConcat:
    case OpType::kSlice:
    case OpType::kChannelShuffle:
    case OpType::kResize:
    case OpType::kSoftmax:
    case OpType::kConvTranspose:
    case OpType::kPrelu:
    case OpType::kPad:
    case OpType::kClip:
    case OpType::kReshape:
    case OpType::kTranspose:
    case OpType::kEltwiseConst:
    case OpType::kReduceMean:
      for (size_t i = 0; i < op.inputs.size(); ++i)
        if (tensor(i).dtype != DType::kFloat32 || y.dtype != DType::kFloat32)
          fail(ErrorCode::kUnsupported, "op '" + op.name + "' (" + op_type_name(op.type) +
                                            "): runs on float32 only (dequantize its int8 input first)");
      return;
    default: break;
  }
  for (size_t i = 0; i < op.inputs.size(); ++i) {
    const bool bias = i == 2;
    const DType want = bias && x.is_int8() ? DType::kInt32 : x.dtype;
    need(tensor(i).dtype == want, std::string("input ") + std::to_string(i) + " is " + dtype_name(tensor(i).dtype) +
                                      ", not " + dtype_name(want) + " (the op's input is " + dtype_name(x.dtype) + ")");
  }
  need(y.dtype == x.dtype, std::string("output is ") + dtype_name(y.dtype) + ", not its input's " + dtype_name(x.dtype));
  if (!x.is_int8()) return;
  const float sx = x.scales[0], sy = y.scales[0];
  switch (op.type) {
    case OpType::kConv2d:
    case OpType::kFullyConnected: {
      const TensorInfo& w = tensor(1);
      need(w.scales.size() == 1 || int64_t(w.scales.size()) == w.shape[0], "weight scales per output channel");
      const int64_t depth = w.elements / w.shape[0];
      if (depth > kMaxInt8Reduction)
        fail(ErrorCode::kResource, "op '" + op.name + "': an int8 output sums " + std::to_string(depth) +
                                       " products, over the limit of " + std::to_string(kMaxInt8Reduction));
      if (op.inputs.size() == 3)
        for (int64_t i = 0; i < tensor(2).elements; ++i)
          if (tensor(2).int32_data()[i] > kMaxInt8Bias || tensor(2).int32_data()[i] < -kMaxInt8Bias)
            fail(ErrorCode::kFormat, "op '" + op.name + "': int32 bias outside [-2^30, 2^30]");
      for (float sw : w.scales) check_multiplier(op, sx * sw / sy, "input x weight / output scale");
      return;
    }
    case OpType::kMaxPool2d:
      need(x.scales == y.scales && x.zero_point == y.zero_point, "int8 output must keep its input's scale and zero point");
      return;
    case OpType::kGlobalAvgPool:
      check_multiplier(op, sx / sy / float(x.shape[2] * x.shape[3]), "input / (output scale x pixels)");
      return;
    case OpType::kAdd:
      check_multiplier(op, sx / sy, "first input / output scale");
      check_multiplier(op, tensor(1).scales[0] / sy, "second input / output scale");
      return;
    default: return;
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
  if (key == "mode" && values[0] > 1) op_fail(op, "attribute 'mode' must be 0 (nearest) or 1 (bilinear)");
  if (key == "kind" && values[0] > 3) op_fail(op, "attribute 'kind' must be 0 (add), 1 (sub), 2 (mul) or 3 (div)");
  if (key == "swap" && values[0] > 1) op_fail(op, "attribute 'swap' must be 0 or 1");
  op.attributes.push_back(key);
  set_attribute(op, key, values);
}

void validate_model(const Graph& g) {
  for (const OpInfo& op : g.ops) {
    for (const AttrRule& rule : attribute_rules(op.type))
      if (rule.required && std::find(op.attributes.begin(), op.attributes.end(), rule.key) == op.attributes.end())
        op_fail(op, std::string("missing attribute '") + rule.key + "'");
    if ((op.type == OpType::kQuantize || op.type == OpType::kDequantize) && op.activation != Activation::kNone)
      op_fail(op, std::string("takes no activation, not ") + activation_name(op.activation));
    // The kernels' epilogues clamp; a smooth activation is a step of its own.
    if (!is_clamp(op.activation) && op.type != OpType::kActivation)
      fail(ErrorCode::kUnsupported, "op '" + op.name + "' (" + op_type_name(op.type) + "): activation " +
                                        activation_name(op.activation) + " only on an activation op");
  }
  validate_graph(g);
  std::vector<int> ends{g.input};
  ends.insert(ends.end(), g.outputs.begin(), g.outputs.end());
  for (int t : ends)
    if (g.tensors[t].dtype != DType::kFloat32)
      fail(ErrorCode::kUnsupported, std::string("graph ") + (t == g.input ? "input" : "output") + " '" +
                                        g.tensors[t].name + "' is " + dtype_name(g.tensors[t].dtype) +
                                        ": models take and give float32 (quantize and dequantize inside)");
  for (const OpInfo& op : g.ops) check_dtypes(g, op);
  const size_t labels = g.metadata.labels.size();
  if (labels != 0 && int64_t(labels) != class_count(g))
    fail(ErrorCode::kGraph, std::to_string(labels) + " labels for " + std::to_string(class_count(g)) +
                                " classes (give one label per class, or none)");
  for (const TensorInfo& t : g.tensors)
    if (t.constant && t.dtype == DType::kFloat32 && !all_finite(t.data, size_t(t.elements)))
      fail(ErrorCode::kFormat, "constant '" + t.name + "' holds NaN or infinity");
}

}  // namespace attocore
