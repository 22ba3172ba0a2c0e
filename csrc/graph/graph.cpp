#include "graph/graph.h"

#include <algorithm>
#include <vector>

#include "format/limits.h"
#include "util/error.h"

namespace attocore {

const char* op_type_name(OpType type) {
  switch (type) {
    case OpType::kConv2d: return "conv2d";
    case OpType::kMaxPool2d: return "maxpool2d";
    case OpType::kGlobalAvgPool: return "global_avgpool";
    case OpType::kFullyConnected: return "fully_connected";
    case OpType::kAdd: return "add";
    case OpType::kActivation: return "activation";
    case OpType::kAvgPool2d: return "avgpool2d";
    case OpType::kMul: return "mul";
    case OpType::kQuantize: return "quantize";
    case OpType::kDequantize: return "dequantize";
    case OpType::kConcat: return "concat";
    case OpType::kSlice: return "slice";
    case OpType::kChannelShuffle: return "channel_shuffle";
    case OpType::kResize: return "resize";
    case OpType::kSoftmax: return "softmax";
    case OpType::kConvTranspose: return "conv_transpose";
    case OpType::kPrelu: return "prelu";
    case OpType::kPad: return "pad";
    case OpType::kClip: return "clip";
    case OpType::kReshape: return "reshape";
    case OpType::kTranspose: return "transpose";
    case OpType::kEltwiseConst: return "eltwise_const";
    case OpType::kReduceMean: return "reduce_mean";
  }
  return "unknown";
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return "float32";
    case DType::kInt8: return "int8";
    case DType::kInt32: return "int32";
  }
  return "unknown";
}

const char* activation_name(Activation act) {
  switch (act) {
    case Activation::kNone: return "none";
    case Activation::kRelu: return "relu";
    case Activation::kRelu6: return "relu6";
    case Activation::kSigmoid: return "sigmoid";
    case Activation::kHardSigmoid: return "hardsigmoid";
    case Activation::kHardSwish: return "hardswish";
    case Activation::kSilu: return "silu";
    case Activation::kTanh: return "tanh";
  }
  return "unknown";
}

namespace {

using Shape = std::vector<int64_t>;

// docs/FORMAT.md's floor((H + pads - dilation * (kernel - 1) - 1) / stride) + 1; C++ division
// truncates toward zero, which made a window longer than the padded input give one output.
int64_t window_output(int64_t size, int kernel, int stride, int pad_lo, int pad_hi, int dilation) {
  const int64_t span = size + pad_lo + pad_hi - int64_t(dilation) * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

std::string shape_str(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + ")";
}

// Inputs an op takes (weight and bias count for conv2d and fully_connected; bias optional).
struct Arity {
  size_t min, max;
  const char* what;
};
Arity arity(OpType type) {
  switch (type) {
    case OpType::kConv2d:
    case OpType::kConvTranspose:
    case OpType::kFullyConnected: return {2, 3, "takes input, weight and optional bias"};
    case OpType::kAdd:
    case OpType::kMul:
    case OpType::kPrelu:
    case OpType::kEltwiseConst:
    case OpType::kClip: return {2, 2, "takes two inputs"};
    case OpType::kConcat: return {2, 16, "takes 2 to 16 inputs"};
    case OpType::kSlice:
    case OpType::kReshape:
    case OpType::kTranspose:
    case OpType::kReduceMean:
    case OpType::kChannelShuffle:
    case OpType::kResize:
    case OpType::kSoftmax:
    case OpType::kPad:
    case OpType::kMaxPool2d:
    case OpType::kAvgPool2d:
    case OpType::kGlobalAvgPool:
    case OpType::kActivation:
    case OpType::kQuantize:
    case OpType::kDequantize: return {1, 1, "takes one input"};
  }
  return {0, 0, "unknown op type"};
}

// Inputs that must be constants (weights and biases, a PReLU's slopes, a clip's bounds);
// every other input is an activation. attocore/graph.py's CONSTANT_SLOTS says the same.
bool is_constant_slot(OpType type, size_t input) {
  switch (type) {
    case OpType::kConv2d:
    case OpType::kConvTranspose:
    case OpType::kFullyConnected: return input >= 1;
    case OpType::kPrelu:
    case OpType::kEltwiseConst:
    case OpType::kClip: return input == 1;
    default: return false;
  }
}

// A windowed op's input with its zero padding must obey the per-tensor element limit: the
// kernels index it (and the first convolution copies it) with that bound in mind.
bool padded_input_fits(const Shape& x, const WindowAttrs& w) {
  const int64_t h = x[2] + w.pad_top + w.pad_bottom, wd = x[3] + w.pad_left + w.pad_right;
  return h <= limits::kMaxElements / wd && x[1] <= limits::kMaxElements / (h * wd);
}

class ShapeChecker {
 public:
  ShapeChecker(const Graph& g, const OpInfo& op) : g_(g), op_(op) {}

  const Shape& in(size_t i) const { return g_.tensors[op_.inputs[i]].shape; }

  void need(bool cond, const std::string& msg, ErrorCode code = ErrorCode::kGraph) const {
    if (!cond) fail(code, "op '" + op_.name + "' (" + op_type_name(op_.type) + "): " + msg);
  }

  Shape infer() const {
    const WindowAttrs& w = op_.window;
    switch (op_.type) {
      case OpType::kConv2d: {
        need(op_.inputs.size() == 2 || op_.inputs.size() == 3, "takes input, weight and optional bias");
        const Shape& x = in(0);
        const Shape& wt = in(1);
        need(x.size() == 4 && wt.size() == 4, "input and weight must be 4-D");
        need(w.kernel_h >= 1 && w.kernel_w >= 1 && w.stride_h >= 1 && w.stride_w >= 1 &&
                 w.dilation_h >= 1 && w.dilation_w >= 1 && w.groups >= 1 && w.pad_top >= 0 &&
                 w.pad_left >= 0 && w.pad_bottom >= 0 && w.pad_right >= 0,
             "bad attribute values");
        need(x[1] % w.groups == 0 && wt[0] % w.groups == 0,
             "groups=" + std::to_string(w.groups) + " does not divide the channels");
        need(wt[1] == x[1] / w.groups && wt[2] == w.kernel_h && wt[3] == w.kernel_w,
             "weight shape " + shape_str(wt) + " does not fit input " + shape_str(x));
        need(padded_input_fits(x, w), "the padded input has more than 2^31 elements", ErrorCode::kResource);
        if (op_.inputs.size() == 3) need(in(2) == Shape{wt[0]}, "bias shape " + shape_str(in(2)));
        int64_t oh = window_output(x[2], w.kernel_h, w.stride_h, w.pad_top, w.pad_bottom, w.dilation_h);
        int64_t ow = window_output(x[3], w.kernel_w, w.stride_w, w.pad_left, w.pad_right, w.dilation_w);
        need(oh >= 1 && ow >= 1, "output would be empty");
        return {x[0], wt[0], oh, ow};
      }
      case OpType::kMaxPool2d:
      case OpType::kAvgPool2d: {
        need(op_.inputs.size() == 1 && in(0).size() == 4, "takes one 4-D input");
        need(w.kernel_h >= 1 && w.kernel_w >= 1 && w.stride_h >= 1 && w.stride_w >= 1 &&
                 w.pad_top >= 0 && w.pad_left >= 0 && w.pad_bottom >= 0 && w.pad_right >= 0 &&
                 w.pad_top < w.kernel_h && w.pad_bottom < w.kernel_h && w.pad_left < w.kernel_w &&
                 w.pad_right < w.kernel_w && w.groups == 1 && w.dilation_h == 1 && w.dilation_w == 1,
             "bad attribute values");
        const Shape& x = in(0);
        need(padded_input_fits(x, w), "the padded input has more than 2^31 elements", ErrorCode::kResource);
        int64_t oh = window_output(x[2], w.kernel_h, w.stride_h, w.pad_top, w.pad_bottom, 1);
        int64_t ow = window_output(x[3], w.kernel_w, w.stride_w, w.pad_left, w.pad_right, 1);
        need(oh >= 1 && ow >= 1, "output would be empty");
        return {x[0], x[1], oh, ow};
      }
      case OpType::kGlobalAvgPool:
        need(op_.inputs.size() == 1 && in(0).size() == 4, "takes one 4-D input");
        return {in(0)[0], in(0)[1]};
      case OpType::kFullyConnected: {
        need(op_.inputs.size() == 2 || op_.inputs.size() == 3, "takes input, weight and optional bias");
        const Shape& x = in(0);
        const Shape& wt = in(1);
        need(x.size() == 2 && wt.size() == 2 && wt[1] == x[1],
             "weight " + shape_str(wt) + " does not fit input " + shape_str(x));
        if (op_.inputs.size() == 3) need(in(2) == Shape{wt[0]}, "bias shape " + shape_str(in(2)));
        return {x[0], wt[0]};
      }
      case OpType::kAdd:
        need(op_.inputs.size() == 2 && in(0) == in(1), "takes two inputs of one shape");
        return in(0);
      case OpType::kActivation:
      case OpType::kQuantize:
      case OpType::kDequantize:
        need(op_.inputs.size() == 1, "takes one input");
        return in(0);
      case OpType::kMul:
        need(op_.inputs.size() == 2 &&
                 (in(1) == in(0) || (in(0).size() == 4 && in(1) == Shape{in(0)[0], in(0)[1]})),
             "takes x and a tensor of its shape or an (N, C) scale per channel, not " + shape_str(in(0)) + " and " +
                 shape_str(in(1)));
        return in(0);
      case OpType::kConcat: {
        const Shape& x0 = in(0);
        const int axis = op_.attrs.axis;
        need(x0.size() >= 2 && x0.size() <= 4 && axis >= 1 && size_t(axis) < x0.size(),
             "takes 2-D to 4-D inputs alike but along axis " + std::to_string(axis));
        Shape out = x0;
        out[axis] = 0;
        for (size_t i = 0; i < op_.inputs.size(); ++i) {
          Shape x = in(i);
          const bool alike = x.size() == x0.size();
          if (alike) out[axis] += x[axis], x[axis] = x0[axis];
          need(alike && x == x0, "takes 2-D to 4-D inputs alike but along axis " + std::to_string(axis) + ", not " +
                                     shape_str(x0) + " and " + shape_str(in(i)));
        }
        need(out[axis] <= limits::kMaxDim, "the output is too long along its axis", ErrorCode::kResource);
        return out;
      }
      case OpType::kSlice: {
        Shape x = in(0);
        const OpAttrs& a = op_.attrs;
        need(x.size() >= 2 && x.size() <= 4 && a.axis >= 1 && size_t(a.axis) < x.size() && 0 <= a.begin &&
                 a.begin < a.end && a.end <= x[std::min<size_t>(size_t(a.axis), x.size() - 1)],
             "[" + std::to_string(a.begin) + ", " + std::to_string(a.end) + ") along axis " + std::to_string(a.axis) +
                 " of " + shape_str(x));
        x[a.axis] = a.end - a.begin;
        return x;
      }
      case OpType::kChannelShuffle:
        need(in(0).size() == 4 && w.groups >= 1 && in(0)[1] % w.groups == 0,
             "groups=" + std::to_string(w.groups) + " of a " + shape_str(in(0)) + " input");
        return in(0);
      case OpType::kResize: {
        Shape x = in(0);
        const OpAttrs& a = op_.attrs;
        need(x.size() == 4 && a.scale_h >= 1 && a.scale_w >= 1,
             "scale " + std::to_string(a.scale_h) + "x" + std::to_string(a.scale_w) + " of a " + shape_str(x) + " input");
        x[2] *= a.scale_h, x[3] *= a.scale_w;
        need(x[2] <= limits::kMaxDim && x[3] <= limits::kMaxDim && x[1] <= limits::kMaxElements / (x[2] * x[3]),
             "the output has more than 2^31 elements", ErrorCode::kResource);
        return x;
      }
      case OpType::kSoftmax:
        need(in(0).size() >= 2 && in(0).size() <= 4 && op_.attrs.axis >= 1 && size_t(op_.attrs.axis) < in(0).size(),
             "takes a 2-D to 4-D input and an axis in it other than the batch, not axis " +
                 std::to_string(op_.attrs.axis) + " of " + shape_str(in(0)));
        return in(0);
      case OpType::kReshape: {
        const Shape& x = in(0);
        const Shape& y = g_.tensors[op_.outputs[0]].shape;
        need(x.size() >= 2 && x.size() <= 4 && y.size() >= 2 && y.size() <= 4,
             "reshapes 2-D to 4-D tensors, not " + shape_str(x) + " to " + shape_str(y));
        int64_t nx = 1, ny = 1;
        for (int64_t d : x) nx *= d;
        for (int64_t d : y) ny *= d;
        need(y[0] == x[0] && nx == ny, "cannot reshape " + shape_str(x) + " to " + shape_str(y) +
                                           " (the batch and the element count stay)");
        return y;
      }
      case OpType::kTranspose: {
        const Shape& x = in(0);
        const int* p = op_.attrs.perm;
        need(x.size() >= 2 && x.size() <= 4, "takes a 2-D to 4-D input");
        bool ok = p[0] == 0;
        std::vector<bool> seen(4, false);
        for (size_t k = 0; k < 4; ++k) {
          ok = ok && p[k] < 4 && !seen[size_t(p[k])] && (k < x.size() ? size_t(p[k]) < x.size() : p[k] == int(k));
          if (p[k] < 4) seen[size_t(p[k])] = true;
        }
        need(ok, "perm (" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ", " + std::to_string(p[2]) + ", " +
                     std::to_string(p[3]) + ") is not a permutation of a " + shape_str(x) +
                     " input's dimensions keeping the batch first (unused ones in place)");
        Shape y(x.size());
        for (size_t k = 0; k < x.size(); ++k) y[k] = x[size_t(p[k])];
        return y;
      }
      case OpType::kEltwiseConst: {
        const Shape& x = in(0);
        const Shape& c = in(1);
        const OpAttrs& a = op_.attrs;
        bool fits = x.size() >= 2 && x.size() <= 4 && !c.empty() && c.size() <= x.size() &&
                    (c.size() < x.size() || c[0] == 1);
        for (size_t k = 1; fits && k <= c.size(); ++k)
          fits = c[c.size() - k] == 1 || c[c.size() - k] == x[x.size() - k];
        need(fits, "a constant of shape " + shape_str(c) + " does not broadcast to a " + shape_str(x) +
                       " input (one value for every image: its batch dimension, if any, is 1)");
        need(int(a.kind) <= 3, "kind must be 0 (add), 1 (sub), 2 (mul) or 3 (div)");
        return x;
      }
      case OpType::kReduceMean: {
        Shape x = in(0);
        const int axes = op_.attrs.axes;
        need(x.size() >= 2 && x.size() <= 4 && axes > 0 && (axes & 1) == 0 && axes < (1 << x.size()),
             "axes mask " + std::to_string(axes) + " of a " + shape_str(x) +
                 " input (bit k averages dimension k; k >= 1, the batch stays)");
        for (size_t k = 1; k < x.size(); ++k)
          if (axes & (1 << k)) x[k] = 1;
        return x;
      }
      case OpType::kConvTranspose: {
        const Shape& x = in(0);
        const Shape& wt = in(1);
        need(x.size() == 4 && wt.size() == 4, "input and weight must be 4-D");
        need(w.kernel_h >= 1 && w.kernel_w >= 1 && w.stride_h >= 1 && w.stride_w >= 1 && w.dilation_h >= 1 &&
                 w.dilation_w >= 1 && w.groups >= 1 && w.output_pad_h < std::max(w.stride_h, w.dilation_h) &&
                 w.output_pad_w < std::max(w.stride_w, w.dilation_w),
             "bad attribute values");
        need(x[1] % w.groups == 0 && wt[0] == x[1] && wt[2] == w.kernel_h && wt[3] == w.kernel_w,
             "weight shape " + shape_str(wt) + " does not fit input " + shape_str(x) +
                 " (weight is [in, out / groups, kh, kw])");
        const int64_t out_c = wt[1] * w.groups;
        if (op_.inputs.size() == 3) need(in(2) == Shape{out_c}, "bias shape " + shape_str(in(2)));
        const int64_t oh = (x[2] - 1) * w.stride_h - w.pad_top - w.pad_bottom + int64_t(w.dilation_h) * (w.kernel_h - 1) +
                           1 + w.output_pad_h;
        const int64_t ow = (x[3] - 1) * w.stride_w - w.pad_left - w.pad_right + int64_t(w.dilation_w) * (w.kernel_w - 1) +
                           1 + w.output_pad_w;
        need(oh >= 1 && ow >= 1, "output would be empty");
        need(oh <= limits::kMaxDim && ow <= limits::kMaxDim && out_c <= limits::kMaxElements / (oh * ow),
             "the output has more than 2^31 elements", ErrorCode::kResource);
        return {x[0], out_c, oh, ow};
      }
      case OpType::kPrelu:
        need(in(0).size() == 2 || in(0).size() == 4,
             "a " + shape_str(in(0)) + " input (prelu and leaky relu take 2-D or 4-D tensors)");
        need(in(1) == Shape{in(0)[1]} || in(1) == Shape{1},
             "slopes " + shape_str(in(1)) + " for a " + shape_str(in(0)) + " input (one per channel, or one)");
        return in(0);
      case OpType::kPad: {
        Shape x = in(0);
        need(x.size() == 4, "takes a 4-D input");
        need(padded_input_fits(x, w), "the padded output has more than 2^31 elements", ErrorCode::kResource);
        x[2] += w.pad_top + w.pad_bottom, x[3] += w.pad_left + w.pad_right;
        return x;
      }
      case OpType::kClip:
        need(in(1) == Shape{2}, "bounds of shape " + shape_str(in(1)) + " (a constant [low, high])");
        return in(0);
    }
    fail(ErrorCode::kUnsupported, "op '" + op_.name + "': unknown op type");
  }

 private:
  const Graph& g_;
  const OpInfo& op_;
};

}  // namespace

void validate_graph(const Graph& g) {
  const int n = static_cast<int>(g.tensors.size());
  if (g.outputs.empty() || g.outputs.size() > size_t(limits::kMaxGraphOutputs) || g.output != g.outputs[0])
    fail(ErrorCode::kGraph, "a graph has 1 to " + std::to_string(limits::kMaxGraphOutputs) + " outputs");
  bool in_range = g.input >= 0 && g.input < n;
  for (int t : g.outputs) in_range = in_range && t >= 0 && t < n;
  if (!in_range) fail(ErrorCode::kGraph, "graph input/output tensor index out of range");
  const TensorInfo& in = g.tensors[g.input];
  const Shape expected{1, g.metadata.input_channels, g.metadata.input_height, g.metadata.input_width};
  if (in.constant || in.shape != expected)
    fail(ErrorCode::kGraph, "graph input '" + in.name + "' shape " + shape_str(in.shape) +
                                " does not match the metadata input shape " + shape_str(expected));
  std::vector<bool> defined(n, false);
  defined[g.input] = true;
  for (int i = 0; i < n; ++i)
    if (g.tensors[i].constant) defined[i] = true;
  for (const OpInfo& op : g.ops) {
    // Arity first: everything after it indexes the op's inputs and output.
    const Arity a = arity(op.type);
    if (op.inputs.size() < a.min || op.inputs.size() > a.max)
      fail(ErrorCode::kGraph, "op '" + op.name + "' (" + op_type_name(op.type) + "): " + a.what + ", not " +
                                  std::to_string(op.inputs.size()));
    if (op.outputs.size() != 1)
      fail(ErrorCode::kGraph, "op '" + op.name + "': must have exactly one output");
    for (int t : op.inputs)
      if (t < 0 || t >= n || !defined[t])
        fail(ErrorCode::kGraph, "op '" + op.name + "': an input is not defined before it");
    const int out = op.outputs[0];
    if (out < 0 || out >= n || defined[out] || g.tensors[out].constant)
      fail(ErrorCode::kGraph, "op '" + op.name + "': output is not a fresh activation tensor");
    for (size_t i = 1; i < op.inputs.size(); ++i) {
      const bool weight_slot = is_constant_slot(op.type, i);
      if (weight_slot != g.tensors[op.inputs[i]].constant)
        fail(ErrorCode::kUnsupported, "op '" + op.name + "': input " + std::to_string(i) +
                                          (weight_slot ? " (weight/bias) must be a constant"
                                                       : " must be an activation, not a constant"));
    }
    if (g.tensors[op.inputs[0]].constant)
      fail(ErrorCode::kUnsupported, "op '" + op.name + "': first input must be an activation");
    Shape inferred = ShapeChecker(g, op).infer();
    if (inferred != g.tensors[out].shape)
      fail(ErrorCode::kGraph, "op '" + op.name + "': output shape " + shape_str(g.tensors[out].shape) +
                                  " != inferred " + shape_str(inferred));
    defined[out] = true;
  }
  // Computed by an op: not a constant, and not the graph input either (the executor reads
  // that from the caller's buffer, where no output can be written).
  // Each output once (attocore/graph.py's order: computed, then not listed before).
  std::vector<bool> listed(n, false);
  for (int t : g.outputs) {
    if (!defined[t] || g.tensors[t].constant || t == g.input)
      fail(ErrorCode::kGraph, "graph output '" + g.tensors[t].name + "' is never computed");
    if (listed[t]) fail(ErrorCode::kGraph, "graph output '" + g.tensors[t].name + "' is listed twice");
    listed[t] = true;
  }
}

}  // namespace attocore
