#include "graph/activation_epilogue.h"
#include "exec/op_layers.h"

#include <algorithm>
#include <vector>

#include "exec/for_pixels.h"
#include "exec/int8_layers.h"
#include "plan/fusion.h"
#include "exec/op_shapes.h"
#include "exec/shape_op_layers.h"
#include "exec/tensor_op_layers.h"
#include "kernels/conv2d/conv2d_ref.h"
#include "kernels/dwconv/dwconv.h"
#include "kernels/eltwise/activation.h"
#include "kernels/fc/fc_ref.h"
#include "kernels/gemm/gemm.h"
#include "kernels/pool/pool_ref.h"
#include "kernels/stem/stem.h"
#include "steps/conv2d_gemm.h"
#include "util/error.h"

namespace attocore {
namespace {

int64_t per_sample(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (size_t i = 1; i < shape.size(); ++i) n *= shape[i];
  return n;
}

// A smooth activation a convolution's step applies to each piece of its output as soon as the
// piece is written, while it is still in cache (the conv_activation pattern); kNone: nothing.
struct ThenActivation {
  ActivationKernel kernel;
  Activation act = Activation::kNone;
  void operator()(float* y, size_t n) const {
    if (act != Activation::kNone) kernel.fn(act, y, y, n);
  }
  std::string suffix() const { return act == Activation::kNone ? "" : std::string("+") + activation_name(act); }
};

// Any convolution, by the portable reference (generic groups, or forced reference).
class ConvRefLayer : public Layer {
 public:
  ConvRefLayer(const Graph& g, const OpInfo& op, ThenActivation then = {})
      : s_(conv_shape(g, op)), act_(op.activation), then_(then) {
    packed_.resize(conv2d_ref_packed_size(s_));
    conv2d_ref_pack(s_, g.tensors[op.inputs[1]].data, packed_.data());
    if (const float* b = bias_of(g, op)) bias_.assign(b, b + s_.out_c);
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    float* out = io.output;
    Conv2dShape s = s_;
    s.batch = ctx.batch;
    const float* bias = bias_.empty() ? nullptr : bias_.data();
    ctx.pool->parallel_for(s.batch * s.out_h, [&](int r0, int r1, int) {
      conv2d_ref(s, io.input, packed_.data(), bias, act_, out, r0, r1);
      const size_t row = size_t(s.out_w) * s.out_c;
      then_(out + r0 * row, size_t(r1 - r0) * row);
    });
  }
  std::string kernel_name() const override { return "conv2d_ref" + then_.suffix(); }

 private:
  Conv2dShape s_;
  Activation act_;
  ThenActivation then_;
  std::vector<float> packed_, bias_;
};

// Dense convolution (groups = 1) on the GEMM microkernel; with `residual`, its residual add
// (and that add's activation) runs in the GEMM epilogue (a 1x1 projection, a ResNet block's
// second 3x3).
class ConvGemmLayer : public Layer {
 public:
  ConvGemmLayer(const Graph& g, const OpInfo& op, const KernelTable& table, bool residual = false,
                Activation act = Activation::kNone, ThenActivation then = {})
      : conv_(conv_shape(g, op), table.gemm_for(conv_shape(g, op).out_c), g.tensors[op.inputs[1]].data,
              bias_of(g, op)),
        act_(residual ? act : op.activation),
        residual_(residual),
        then_(then) {}
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    float* out = io.output;
    const int pixels = ctx.batch * conv_.shape.out_h * conv_.shape.out_w;
    for_pixels(ctx, pixels, conv_.kernel->mr, [&](int p0, int p1, float* scratch) {
      conv_.run(io.input, out, scratch, act_, p0, p1, residual_ ? io.shortcut : nullptr);
      then_(out + size_t(p0) * conv_.shape.out_c, size_t(p1 - p0) * conv_.shape.out_c);
    });
  }
  std::string kernel_name() const override {
    return std::string(conv_.direct ? "conv1x1" : conv_.indirect ? "igemm" : "im2col") + (residual_ ? "+res" : "") +
           then_.suffix() + ":" + conv_.kernel->name;
  }
  std::optional<InputPort> overwritable_input() const override {
    return residual_ ? std::optional(InputPort::kShortcut) : std::nullopt;
  }
  size_t scratch_floats() const override { return conv_.scratch_floats(); }

 private:
  Conv2dGemm conv_;
  Activation act_;
  bool residual_;
  ThenActivation then_;
};

// The first convolution, reading the caller's NCHW input directly.
class StemLayer : public Layer {
 public:
  StemLayer(const Graph& g, const OpInfo& op, StemFn fn, const char* name, ThenActivation then = {})
      : fn_(fn), name_(name), act_(op.activation), then_(then) {
    const Conv2dShape c = conv_shape(g, op);
    s_ = make_stem_shape(c.in_c, c.in_h, c.in_w, c.out_c, c.out_h, c.out_w, op.window);
    weights_ = pack_stem(s_, g.tensors[op.inputs[1]].data, bias_of(g, op));
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    float* out = io.output;
    for (int n = 0; n < ctx.batch; ++n) {
      const float* image = io.input + size_t(n) * s_.in_c * s_.in_h * s_.in_w;
      ctx.pool->parallel_for(s_.in_c * s_.padded_h, [&](int r0, int r1, int worker) {
        stem_pad_rows(s_, image, ctx.shared_scratch, r0, r1, ctx.worker_scratch(worker));
      });
      float* image_out = out + size_t(n) * s_.out_h * s_.out_w * s_.out_c;
      ctx.pool->parallel_for(s_.out_h, [&](int r0, int r1, int) {
        fn_(StemArgs{&s_, &weights_, ctx.shared_scratch, image_out, epilogue_of(act_), r0, r1});
        const size_t row = size_t(s_.out_w) * s_.out_c;
        then_(image_out + r0 * row, size_t(r1 - r0) * row);
      });
    }
  }
  std::string kernel_name() const override { return name_ + then_.suffix(); }
  size_t scratch_floats() const override { return stem_pad_scratch_floats(s_); }
  size_t shared_scratch_floats() const override { return stem_padded_floats(s_); }
  bool reads_nchw_input() const override { return true; }

 private:
  StemFn fn_;
  const char* name_;
  StemShape s_;
  PackedStem weights_;
  Activation act_;
  ThenActivation then_;
};

// Depthwise convolution with any channel multiplier.
class DwconvLayer : public Layer {
 public:
  DwconvLayer(const Graph& g, const OpInfo& op, const KernelTable& table, ThenActivation then = {})
      : kernel_(table.dwconv), s_(dwconv_shape(g, op)), act_(op.activation), then_(then) {
    weights_ = pack_dwconv(s_, kernel_, g.tensors[op.inputs[1]].data, bias_of(g, op));
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    float* out = io.output;
    DwconvShape s = s_;
    s.batch = ctx.batch;
    ctx.pool->parallel_for(s.batch * s.out_h, [&](int r0, int r1, int worker) {
      kernel_.fn(DwconvArgs{&s, &weights_, io.input, out, epilogue_of(act_), r0, r1, ctx.worker_scratch(worker)});
      const size_t row = size_t(s.out_w) * s.out_c;
      then_(out + r0 * row, size_t(r1 - r0) * row);
    });
  }
  std::string kernel_name() const override { return kernel_.name + then_.suffix(); }
  size_t scratch_floats() const override { return dwconv_scratch_floats(s_, kernel_); }

 private:
  DwconvKernel kernel_;
  DwconvShape s_;
  PackedDwconv weights_;
  Activation act_;
  ThenActivation then_;
};

class PoolLayer : public Layer {
 public:
  PoolLayer(const Graph& g, const OpInfo& op, const MaxPoolKernel& maxpool)
      : average_(op.type == OpType::kAvgPool2d), maxpool_(maxpool), w_(op.window), act_(op.activation) {
    const auto& x = shape_of(g, op.inputs[0]);
    const auto& y = shape_of(g, op.outputs[0]);
    c_ = int(x[1]), in_h_ = int(x[2]), in_w_ = int(x[3]), out_h_ = int(y[2]), out_w_ = int(y[3]);
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    float* out = io.output;
    ctx.pool->parallel_for(ctx.batch * out_h_, [&](int r0, int r1, int) {
      if (average_) {
        avgpool2d_ref(in_h_, in_w_, c_, out_h_, out_w_, w_, io.input, epilogue_of(act_), out, r0, r1);
      } else {
        maxpool_.fn(in_h_, in_w_, c_, out_h_, out_w_, w_, io.input, epilogue_of(act_), out, r0, r1);
      }
    });
  }
  std::string kernel_name() const override { return average_ ? "avgpool2d_ref" : maxpool_.name; }

 private:
  bool average_;
  MaxPoolKernel maxpool_;
  WindowAttrs w_;
  Activation act_;
  int c_, in_h_, in_w_, out_h_, out_w_;
};

class GlobalAvgPoolLayer : public Layer {
 public:
  GlobalAvgPoolLayer(const Graph& g, const OpInfo& op) : act_(op.activation) {
    const auto& x = shape_of(g, op.inputs[0]);
    c_ = int(x[1]), hw_ = int(x[2] * x[3]);
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    float* out = io.output;
    global_avgpool_ref(ctx.batch, hw_, c_, io.input, epilogue_of(act_), out);
  }
  std::string kernel_name() const override { return "global_avgpool_ref"; }

 private:
  Activation act_;
  int c_, hw_;
};

// Fully connected: the GEMM microkernel over the batch rows (weights packed at load), or
// the reference on its own copy of the file's [out, in] weights (the file's bytes are freed
// once the model is compiled).
class FullyConnectedLayer : public Layer {
 public:
  FullyConnectedLayer(const Graph& g, const OpInfo& op, const KernelTable& table) : act_(op.activation) {
    const TensorInfo& w = g.tensors[op.inputs[1]];
    out_ = int(w.shape[0]), in_ = int(w.shape[1]);
    const float* bias = bias_of(g, op);
    if (table.isa != Isa::kReference) {
      kernel_ = &table.gemm_for(out_);
      packed_ = pack_gemm_b(in_, out_, *kernel_, bias, [&](int k, int n) { return w.data[size_t(n) * in_ + k]; });
    } else {
      weight_.assign(w.data, w.data + w.elements);
      if (bias) bias_.assign(bias, bias + out_);
    }
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    if (kernel_ == nullptr) {
      fully_connected_ref(ctx.batch, in_, out_, io.input, weight_.data(), bias_.empty() ? nullptr : bias_.data(), act_,
                          io.output);
      return;
    }
    // Split the output columns over threads (batch 1 has a single row).
    ctx.pool->parallel_for(packed_.panels(), [&](int p0, int p1, int) {
      gemm_panels(*kernel_, ctx.batch, io.input, in_, packed_, p0, p1, io.output, out_, nullptr, 0, epilogue_of(act_));
    });
  }
  std::string kernel_name() const override {
    return kernel_ ? std::string("fc:") + kernel_->name : "fully_connected_ref";
  }

 private:
  Activation act_;
  int in_, out_;
  std::vector<float> weight_, bias_;  // the reference path only
  const GemmKernel* kernel_ = nullptr;
  PackedGemmB packed_;
};

class AddLayer : public Layer {
 public:
  AddLayer(const Graph& g, const OpInfo& op) : act_(op.activation), n_(per_sample(shape_of(g, op.outputs[0]))) {}
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    float* out = io.output;
    for_ranges(ctx, n_ * ctx.batch, 4096, [&](int64_t begin, int64_t end) {
      add_ref(io.input + begin, io.shortcut + begin, size_t(end - begin), act_, out + begin);
    });
  }
  std::string kernel_name() const override { return "add_ref"; }

 private:
  Activation act_;
  int64_t n_;
};

class ActivationLayer : public Layer {
 public:
  ActivationLayer(const Graph& g, const OpInfo& op, const KernelTable& table)
      : kernel_(table.activation), act_(op.activation), n_(per_sample(shape_of(g, op.outputs[0]))) {}
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    float* out = io.output;
    for_ranges(ctx, n_ * ctx.batch, 4096, [&](int64_t begin, int64_t end) {  // any split gives the same bits
      kernel_.fn(act_, io.input + begin, out + begin, size_t(end - begin));
    });
  }
  std::string kernel_name() const override { return kernel_.name; }

 private:
  ActivationKernel kernel_;
  Activation act_;
  int64_t n_;
};

// x * s: elementwise for two tensors of one shape; for a 4-D x and an (N, C) s, each channel of
// each image scaled by its value (a squeeze-and-excitation block's last step). NHWC inside, so
// a pixel's channels are contiguous and s's row for its image applies to each.
class MulLayer : public Layer {
 public:
  MulLayer(const Graph& g, const OpInfo& op) : act_(op.activation) {
    const auto& x = shape_of(g, op.inputs[0]);
    per_channel_ = shape_of(g, op.inputs[1]) != x;
    channels_ = x[1];
    per_image_ = per_sample(x);
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    float* out = io.output;
    if (!per_channel_) {
      for_ranges(ctx, per_image_ * ctx.batch, 4096, [&](int64_t begin, int64_t end) {
        mul_ref(io.input + begin, io.shortcut + begin, size_t(end - begin), act_, out + begin);
      });
      return;
    }
    // Blocks of pixels (an int count of them for any tensor the format allows), each cut at
    // image boundaries: the pixels of one image share its scale row.
    const int64_t pixels = per_image_ / channels_;
    for_ranges(ctx, pixels * ctx.batch, 256, [&](int64_t first, int64_t stop) {
      for (int64_t p = first; p < stop;) {
        const int64_t n = p / pixels, end = std::min<int64_t>(stop, (n + 1) * pixels);
        const size_t at = size_t(p) * channels_;
        scale_channels_ref(io.input + at, io.shortcut + n * channels_, size_t(end - p), size_t(channels_), act_,
                           out + at);
        p = end;
      }
    });
  }
  std::string kernel_name() const override { return per_channel_ ? "scale_channels_ref" : "mul_ref"; }

 private:
  Activation act_;
  bool per_channel_ = false;
  int64_t channels_ = 0, per_image_ = 0;
};

// input_is_nchw_graph_input: the op's only activation input is the graph input, read by no
// other op (a stem kernel may then read the caller's NCHW buffer).
std::unique_ptr<Layer> make_conv_layer(const Graph& g, const OpInfo& op, const KernelTable& table,
                                       bool input_is_nchw_graph_input, ThenActivation then = {}) {
  const Conv2dShape s = conv_shape(g, op);
  if (table.isa == Isa::kReference) return std::make_unique<ConvRefLayer>(g, op, then);  // the plain oracle path
  const bool dilated = op.window.dilation_h != 1 || op.window.dilation_w != 1;
  const bool stem_shape = op.window.groups == 1 && !dilated && op.window.kernel_w > 1 &&
                          (op.window.stride_w == 1 || op.window.stride_w == 2);
  if (input_is_nchw_graph_input && table.stem.fn && stem_shape)
    return std::make_unique<StemLayer>(g, op, table.stem.fn, table.stem.name, then);
  if (op.window.groups == 1)  // dilated too: the im2col and indirect tiles step taps by the dilation
    return std::make_unique<ConvGemmLayer>(g, op, table, false, Activation::kNone, then);
  if (op.window.groups == s.in_c && s.out_c % s.in_c == 0) return std::make_unique<DwconvLayer>(g, op, table, then);
  return std::make_unique<ConvRefLayer>(g, op, then);
}

bool reads_graph_input_alone(const Graph& g, const OpInfo& op) {
  if (op.inputs[0] != g.input) return false;
  int readers = 0;
  for (const OpInfo& other : g.ops)
    for (int t : other.inputs) readers += t == g.input;
  return readers == 1;
}

}  // namespace

std::unique_ptr<Layer> make_op_layer(const Graph& g, int index, const KernelTable& table) {
  const OpInfo& op = g.ops[index];
  if (touches_int8(g, op)) return make_int8_layer(g, op, table.isa);
  switch (op.type) {
    case OpType::kConv2d: return make_conv_layer(g, op, table, reads_graph_input_alone(g, op));
    case OpType::kMaxPool2d:
    case OpType::kAvgPool2d: return std::make_unique<PoolLayer>(g, op, table.maxpool);
    case OpType::kGlobalAvgPool: return std::make_unique<GlobalAvgPoolLayer>(g, op);
    case OpType::kFullyConnected: return std::make_unique<FullyConnectedLayer>(g, op, table);
    case OpType::kAdd: return std::make_unique<AddLayer>(g, op);
    case OpType::kActivation: return std::make_unique<ActivationLayer>(g, op, table);
    case OpType::kMul: return std::make_unique<MulLayer>(g, op);
    case OpType::kQuantize:
    case OpType::kDequantize: break;  // int8 ops, taken above
    default:
      if (std::unique_ptr<Layer> layer = make_shape_op_layer(g, op)) return layer;
      if (std::unique_ptr<Layer> layer = make_tensor_op_layer(g, op, table)) return layer;
      break;
  }
  fail(ErrorCode::kUnsupported, "op '" + op.name + "': no kernel for this op type");
}

std::unique_ptr<Layer> make_conv_activation_layer(const Graph& g, int conv, const KernelTable& table,
                                                  Activation smooth) {
  return make_conv_layer(g, g.ops[conv], table, reads_graph_input_alone(g, g.ops[conv]),
                         ThenActivation{table.activation, smooth});
}

std::unique_ptr<Layer> make_conv_residual_layer(const Graph& g, const OpInfo& conv, const KernelTable& table,
                                                Activation add_activation) {
  return std::make_unique<ConvGemmLayer>(g, conv, table, true, add_activation);
}

}  // namespace attocore
