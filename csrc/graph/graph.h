// The graph as loaded from a weight file: tensors (activations and constants), ops in
// execution order, and metadata. Shapes are NCHW with the batch dimension stored as 1.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace attocore {

enum class OpType : uint16_t {
  kConv2d = 1,
  kMaxPool2d = 2,
  kGlobalAvgPool = 3,
  kFullyConnected = 4,
  kAdd = 5,
  kActivation = 6,
  kAvgPool2d = 7,
  kMul = 8,  // x * s: s of x's shape, or (N, C) scaling each channel of a 4-D x
};

// The clamps (none, ReLU, ReLU6) run in every kernel's epilogue; the smooth ones only as an
// activation op of their own (format/validate.cpp refuses them on any other op).
enum class Activation : uint8_t { kNone = 0, kRelu = 1, kRelu6 = 2, kSigmoid = 3, kHardSigmoid = 4, kHardSwish = 5, kSilu = 6 };
constexpr uint8_t kLastActivation = 6;
constexpr uint16_t kLastOpType = 8;

inline bool is_clamp(Activation act) { return act == Activation::kNone || act == Activation::kRelu || act == Activation::kRelu6; }

const char* op_type_name(OpType type);
const char* activation_name(Activation act);

struct TensorInfo {
  std::string name;
  bool constant = false;
  std::vector<int64_t> shape;
  int64_t elements = 0;
  const float* data = nullptr;  // constants only: into the ModelFile's bytes (null in a CompiledModel's graph)
};

// Window attributes of conv2d and the pools (defaults for the optional ones).
struct WindowAttrs {
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;
  int count_include_pad = 0;  // avgpool2d: padded positions count in the divisor
};

struct OpInfo {
  OpType type = OpType::kConv2d;
  Activation activation = Activation::kNone;
  std::string name;
  std::vector<int> inputs;
  std::vector<int> outputs;
  std::vector<std::string> attributes;  // the keys the file gave, in its order
  WindowAttrs window;
};

struct Metadata {
  std::string name;
  int input_channels = 0, input_height = 0, input_width = 0;
  std::vector<float> mean, std;
  uint32_t resize = 0;
  std::vector<std::string> labels;
  std::map<std::string, std::string> extra;
};

struct Graph {
  Metadata metadata;
  std::vector<TensorInfo> tensors;
  std::vector<OpInfo> ops;
  int input = -1;
  int output = -1;
};

// Checks order (each tensor defined once, before use), attributes and every shape by
// inference. Throws Error(kGraph / kUnsupported) naming the op.
void validate_graph(const Graph& graph);

}  // namespace attocore
