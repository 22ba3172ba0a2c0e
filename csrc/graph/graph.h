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
  kQuantize = 9,    // float32 -> int8 by the output's scale and zero point (format v2)
  kDequantize = 10, // int8 -> float32
  // Float32 ops of the exported CNNs (docs/FORMAT.md): along channels concat and slice
  // (Split), ShuffleNet's channel shuffle, integer-factor resize, softmax over the channels,
  // transposed convolution, PReLU / LeakyReLU, zero padding, clip to constant bounds.
  kConcat = 11,
  kSlice = 12,
  kChannelShuffle = 13,
  kResize = 14,
  kSoftmax = 15,
  kConvTranspose = 16,
  kPrelu = 17,
  kPad = 18,
  kClip = 19,
  // Layout ops of detection heads and decoders on rank 2-4 tensors (docs/FORMAT.md, "Tensor
  // ranks"): reshape to the output tensor's shape, transpose by a permutation that keeps the
  // batch first, elementwise add / sub / mul / div by a broadcast constant, mean over any
  // dimensions but the batch (kept as size 1).
  kReshape = 20,
  kTranspose = 21,
  kEltwiseConst = 22,
  kReduceMean = 23,
};

// The clamps (none, ReLU, ReLU6) run in every kernel's epilogue; the smooth ones only as an
// activation op of their own (format/validate.cpp refuses them on any other op).
enum class Activation : uint8_t {
  kNone = 0, kRelu = 1, kRelu6 = 2, kSigmoid = 3, kHardSigmoid = 4, kHardSwish = 5, kSilu = 6, kTanh = 7
};
constexpr uint8_t kLastActivation = 7;
constexpr uint16_t kLastOpType = 23;

inline bool is_clamp(Activation act) { return act == Activation::kNone || act == Activation::kRelu || act == Activation::kRelu6; }

const char* op_type_name(OpType type);
const char* activation_name(Activation act);

// Element types (the format's dtype codes). int8 tensors are quantized (docs/QUANTIZATION.md):
// real = scale * (q - zero_point), one scale per tensor or, for a constant, one per output
// channel (dimension 0) with zero point 0. int32 tensors are the biases of int8 convolutions
// and fully connected layers, in units of input scale x weight scale.
enum class DType : uint8_t { kFloat32 = 1, kInt8 = 2, kInt32 = 3 };
constexpr uint8_t kLastDType = 3;

const char* dtype_name(DType dtype);
inline size_t dtype_bytes(DType dtype) { return dtype == DType::kInt8 ? 1 : 4; }

struct TensorInfo {
  std::string name;
  bool constant = false;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  int64_t elements = 0;
  // Constants only: into the ModelFile's bytes (null in a CompiledModel's graph). `data` is
  // set for float32 constants, `raw` for every dtype.
  const float* data = nullptr;
  const void* raw = nullptr;
  // int8 tensors: 1 scale, or one per dimension-0 slice of a constant; the zero point is in
  // [-128, 127] and 0 when there is a scale per slice.
  std::vector<float> scales;
  int32_t zero_point = 0;

  bool is_int8() const { return dtype == DType::kInt8; }
  size_t bytes() const { return size_t(elements) * dtype_bytes(dtype); }
  const int8_t* int8_data() const { return static_cast<const int8_t*>(raw); }
  const int32_t* int32_data() const { return static_cast<const int32_t*>(raw); }
};

// Window attributes of conv2d and the pools (defaults for the optional ones).
struct WindowAttrs {
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;
  int count_include_pad = 0;  // avgpool2d: padded positions count in the divisor
  int output_pad_h = 0, output_pad_w = 0;  // conv_transpose: rows and columns added at the end
};

// The other ops' attributes (defaults where they have none).
enum class ResizeMode : uint8_t { kNearest = 0, kBilinear = 1 };  // bilinear: half-pixel centres
enum class EltwiseKind : uint8_t { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3 };
struct OpAttrs {
  int begin = 0, end = 0;          // slice: [begin, end) along `axis`
  int scale_h = 1, scale_w = 1;    // resize
  ResizeMode mode = ResizeMode::kNearest;
  int axis = 1;                    // concat, slice, softmax: the dimension they work along
  int perm[4] = {0, 1, 2, 3};      // transpose: output dimension k is input dimension perm[k]
  EltwiseKind kind = EltwiseKind::kAdd;  // eltwise_const
  bool swap = false;               // eltwise_const: constant op x instead of x op constant
  int axes = 0;                    // reduce_mean: bit k set = dimension k is averaged (k >= 1)
};

struct OpInfo {
  OpType type = OpType::kConv2d;
  Activation activation = Activation::kNone;
  std::string name;
  std::vector<int> inputs;
  std::vector<int> outputs;
  std::vector<std::string> attributes;  // the keys the file gave, in its order
  WindowAttrs window;  // also channel_shuffle's groups and pad's edges
  OpAttrs attrs;
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
  int output = -1;           // outputs[0]: the first graph output (the one a single-output caller gets)
  std::vector<int> outputs;  // every graph output, in file order (1 .. limits::kMaxGraphOutputs)

  bool is_output(int tensor) const {
    for (int t : outputs)
      if (t == tensor) return true;
    return false;
  }
};

// Checks order (each tensor defined once, before use), attributes and every shape by
// inference. Throws Error(kGraph / kUnsupported) naming the op.
void validate_graph(const Graph& graph);

}  // namespace attocore
