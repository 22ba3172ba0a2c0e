#include <vector>

#include "exec/layer.h"
#include "kernels/conv2d/conv2d_ref.h"
#include "kernels/eltwise/activation.h"
#include "kernels/fc/fc_ref.h"
#include "kernels/pool/pool_ref.h"
#include "util/error.h"

namespace attocore {
namespace {

const std::vector<int64_t>& shape_of(const Graph& g, int tensor) { return g.tensors[tensor].shape; }

int64_t per_sample(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (size_t i = 1; i < shape.size(); ++i) n *= shape[i];
  return n;
}

class ConvLayerRef : public Layer {
 public:
  ConvLayerRef(const Graph& g, const OpInfo& op) : act_(op.activation) {
    const auto& x = shape_of(g, op.inputs[0]);
    const auto& y = shape_of(g, op.outputs[0]);
    s_.in_c = int(x[1]), s_.in_h = int(x[2]), s_.in_w = int(x[3]);
    s_.out_c = int(y[1]), s_.out_h = int(y[2]), s_.out_w = int(y[3]);
    s_.window = op.window;
    packed_.resize(conv2d_ref_packed_size(s_));
    conv2d_ref_pack(s_, g.tensors[op.inputs[1]].data, packed_.data());
    if (op.inputs.size() == 3) {
      const TensorInfo& b = g.tensors[op.inputs[2]];
      bias_.assign(b.data, b.data + b.elements);
    }
  }
  void run(const RunContext& ctx, const float* const* in, float* out) const override {
    Conv2dShape s = s_;
    s.batch = ctx.batch;
    const float* bias = bias_.empty() ? nullptr : bias_.data();
    ctx.pool->parallel_for(s.batch * s.out_h, [&](int r0, int r1) {
      conv2d_ref(s, in[0], packed_.data(), bias, act_, out, r0, r1);
    });
  }
  const char* kernel_name() const override { return "conv2d_ref"; }

 private:
  Conv2dShape s_;
  Activation act_;
  std::vector<float> packed_, bias_;
};

class MaxPoolLayer : public Layer {
 public:
  MaxPoolLayer(const Graph& g, const OpInfo& op) : w_(op.window), act_(op.activation) {
    const auto& x = shape_of(g, op.inputs[0]);
    const auto& y = shape_of(g, op.outputs[0]);
    c_ = int(x[1]), in_h_ = int(x[2]), in_w_ = int(x[3]), out_h_ = int(y[2]), out_w_ = int(y[3]);
  }
  void run(const RunContext& ctx, const float* const* in, float* out) const override {
    ctx.pool->parallel_for(ctx.batch * out_h_, [&](int r0, int r1) {
      maxpool2d_ref(in_h_, in_w_, c_, out_h_, out_w_, w_, in[0], act_, out, r0, r1);
    });
  }
  const char* kernel_name() const override { return "maxpool2d_ref"; }

 private:
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
  void run(const RunContext& ctx, const float* const* in, float* out) const override {
    global_avgpool_ref(ctx.batch, hw_, c_, in[0], act_, out);
  }
  const char* kernel_name() const override { return "global_avgpool_ref"; }

 private:
  Activation act_;
  int c_, hw_;
};

class FullyConnectedLayer : public Layer {
 public:
  FullyConnectedLayer(const Graph& g, const OpInfo& op) : act_(op.activation) {
    const TensorInfo& w = g.tensors[op.inputs[1]];
    out_ = int(w.shape[0]), in_ = int(w.shape[1]);
    weight_ = w.data;  // zero copy: row-major [out, in] is what the kernel reads
    if (op.inputs.size() == 3) bias_ = g.tensors[op.inputs[2]].data;
  }
  void run(const RunContext& ctx, const float* const* in, float* out) const override {
    fully_connected_ref(ctx.batch, in_, out_, in[0], weight_, bias_, act_, out);
  }
  const char* kernel_name() const override { return "fully_connected_ref"; }

 private:
  Activation act_;
  int in_, out_;
  const float* weight_;
  const float* bias_ = nullptr;
};

class AddLayer : public Layer {
 public:
  AddLayer(const Graph& g, const OpInfo& op) : act_(op.activation), n_(per_sample(shape_of(g, op.outputs[0]))) {}
  void run(const RunContext& ctx, const float* const* in, float* out) const override {
    add_ref(in[0], in[1], size_t(n_) * ctx.batch, act_, out);
  }
  const char* kernel_name() const override { return "add_ref"; }

 private:
  Activation act_;
  int64_t n_;
};

class ActivationLayer : public Layer {
 public:
  ActivationLayer(const Graph& g, const OpInfo& op) : act_(op.activation), n_(per_sample(shape_of(g, op.outputs[0]))) {}
  void run(const RunContext& ctx, const float* const* in, float* out) const override {
    const size_t n = size_t(n_) * ctx.batch;
    for (size_t i = 0; i < n; ++i) out[i] = activate(act_, in[0][i]);
  }
  const char* kernel_name() const override { return "activation_ref"; }

 private:
  Activation act_;
  int64_t n_;
};

}  // namespace

std::unique_ptr<Layer> make_layer(const Graph& g, const OpInfo& op) {
  switch (op.type) {
    case OpType::kConv2d: return std::make_unique<ConvLayerRef>(g, op);
    case OpType::kMaxPool2d: return std::make_unique<MaxPoolLayer>(g, op);
    case OpType::kGlobalAvgPool: return std::make_unique<GlobalAvgPoolLayer>(g, op);
    case OpType::kFullyConnected: return std::make_unique<FullyConnectedLayer>(g, op);
    case OpType::kAdd: return std::make_unique<AddLayer>(g, op);
    case OpType::kActivation: return std::make_unique<ActivationLayer>(g, op);
  }
  fail(ErrorCode::kUnsupported, "op '" + op.name + "': no kernel for this op type");
}

int64_t op_macs(const Graph& g, const OpInfo& op) {
  const auto& y = shape_of(g, op.outputs[0]);
  switch (op.type) {
    case OpType::kConv2d: {
      const auto& w = shape_of(g, op.inputs[1]);
      return y[1] * y[2] * y[3] * w[1] * w[2] * w[3];
    }
    case OpType::kFullyConnected: return y[1] * shape_of(g, op.inputs[1])[1];
    default: return 0;
  }
}

}  // namespace attocore
