#include <algorithm>
#include <utility>
#include <vector>

#include "exec/layer.h"
#include "graph/activation_epilogue.h"
#include "kernels/conv2d/conv2d_gemm.h"
#include "kernels/conv2d/conv2d_ref.h"
#include "kernels/dwconv/dwconv.h"
#include "kernels/dwconv/dwconv_bands.h"
#include "kernels/eltwise/activation.h"
#include "kernels/fc/fc_ref.h"
#include "kernels/gemm/gemm.h"
#include "kernels/mbconv/mbconv.h"
#include "kernels/pool/pool_ref.h"
#include "kernels/pwpw/dw_pwpw.h"
#include "kernels/pwpw/pwpw.h"
#include "kernels/stem/stem.h"
#include "util/error.h"

namespace attocore {
namespace {

const std::vector<int64_t>& shape_of(const Graph& g, int tensor) { return g.tensors[tensor].shape; }

int64_t per_sample(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (size_t i = 1; i < shape.size(); ++i) n *= shape[i];
  return n;
}

Conv2dShape conv_shape(const Graph& g, const OpInfo& op) {
  Conv2dShape s;
  const auto& x = shape_of(g, op.inputs[0]);
  const auto& y = shape_of(g, op.outputs[0]);
  s.in_c = int(x[1]), s.in_h = int(x[2]), s.in_w = int(x[3]);
  s.out_c = int(y[1]), s.out_h = int(y[2]), s.out_w = int(y[3]);
  s.window = op.window;
  return s;
}

DwconvShape dwconv_shape(const Graph& g, const OpInfo& op) {
  const Conv2dShape c = conv_shape(g, op);
  DwconvShape s;
  s.in_c = c.in_c, s.in_h = c.in_h, s.in_w = c.in_w;
  s.out_c = c.out_c, s.out_h = c.out_h, s.out_w = c.out_w;
  s.multiplier = c.out_c / c.in_c;
  s.window = op.window;
  return s;
}

const float* bias_of(const Graph& g, const OpInfo& op) {
  return op.inputs.size() == 3 ? g.tensors[op.inputs[2]].data : nullptr;
}

// Work split for pixel-parallel kernels: one contiguous range of pixels per thread, cut at
// multiples of `mr` near the even split; each range is then walked in tiles by the kernel.
// A pixel's result does not depend on where the cuts fall, so any thread count gives
// identical bits. With every thread busy, each range is offered as ThreadPool::kPieces
// parts (the pool hands a late worker's parts to the caller); consecutive parts run as one
// call, so a range run whole is exactly the thread's range.
template <typename Body>
void for_pixels(const RunContext& ctx, int pixels, int mr, const Body& body) {
  const int threads = std::min(ctx.pool->threads(), std::max(1, pixels / mr));
  const int parts = threads == ctx.pool->threads() && threads > 1 ? threads * ThreadPool::kPieces : threads;
  auto cut = [&](int i) { return i == parts ? pixels : std::min(pixels, (int(int64_t(pixels) * i / parts) + mr / 2) / mr * mr); };
  ctx.pool->parallel_for(parts, [&](int t0, int t1, int worker) {
    const int begin = cut(t0), end = cut(t1);
    if (end > begin) body(begin, end, ctx.worker_scratch(worker));
  });
}

// Any convolution, by the portable reference (generic groups, or forced reference).
class ConvRefLayer : public Layer {
 public:
  ConvRefLayer(const Graph& g, const OpInfo& op) : s_(conv_shape(g, op)), act_(op.activation) {
    packed_.resize(conv2d_ref_packed_size(s_));
    conv2d_ref_pack(s_, g.tensors[op.inputs[1]].data, packed_.data());
    if (const float* b = bias_of(g, op)) bias_.assign(b, b + s_.out_c);
  }
  void run(const RunContext& ctx, const float* const* in, float* const* outs) const override {
    float* out = outs[0];
    Conv2dShape s = s_;
    s.batch = ctx.batch;
    const float* bias = bias_.empty() ? nullptr : bias_.data();
    ctx.pool->parallel_for(s.batch * s.out_h, [&](int r0, int r1, int) {
      conv2d_ref(s, in[0], packed_.data(), bias, act_, out, r0, r1);
    });
  }
  std::string kernel_name() const override { return "conv2d_ref"; }

 private:
  Conv2dShape s_;
  Activation act_;
  std::vector<float> packed_, bias_;
};

// Dense convolution (groups = 1) on the GEMM microkernel; with `residual`, its residual add
// (and that add's activation) runs in the GEMM epilogue (a 1x1 projection, a ResNet block's
// second 3x3).
class ConvGemmLayer : public Layer {
 public:
  ConvGemmLayer(const Graph& g, const OpInfo& op, const KernelTable& table, bool residual = false,
                Activation act = Activation::kNone)
      : conv_(conv_shape(g, op), table.gemm_for(conv_shape(g, op).out_c), g.tensors[op.inputs[1]].data,
              bias_of(g, op)),
        act_(residual ? act : op.activation),
        residual_(residual) {}
  void run(const RunContext& ctx, const float* const* in, float* const* outs) const override {
    float* out = outs[0];
    const int pixels = ctx.batch * conv_.shape.out_h * conv_.shape.out_w;
    for_pixels(ctx, pixels, conv_.kernel->mr, [&](int p0, int p1, float* scratch) {
      conv_.run(in[0], out, scratch, act_, p0, p1, residual_ ? in[1] : nullptr);
    });
  }
  std::string kernel_name() const override {
    return std::string(conv_.direct ? "conv1x1" : conv_.indirect ? "igemm" : "im2col") + (residual_ ? "+res:" : ":") +
           conv_.kernel->name;
  }
  int overwritable_input() const override { return residual_ ? 1 : -1; }
  size_t scratch_floats() const override { return conv_.scratch_floats(); }

 private:
  Conv2dGemm conv_;
  Activation act_;
  bool residual_;
};

// A depthwise convolution and the 1x1 it feeds (MobileNet's projection), with that 1x1's
// residual add if it has one: the depthwise output goes band by band through scratch
// (dwconv_bands.h) straight into the GEMM.
class DwConv1x1Layer : public Layer {
 public:
  DwConv1x1Layer(const Graph& g, const FusedOps& f, const KernelTable& table)
      : conv_(conv_shape(g, g.ops[f.first]), table.gemm_for(conv_shape(g, g.ops[f.first]).out_c),
              g.tensors[g.ops[f.first].inputs[1]].data, bias_of(g, g.ops[f.first])),
        act_(f.add >= 0 ? g.ops[f.add].activation : g.ops[f.first].activation),
        residual_(f.add >= 0) {
    const OpInfo& d = g.ops[f.dw];
    dw_ = DwconvBands(table.dwconv, dwconv_shape(g, d), g.tensors[d.inputs[1]].data, bias_of(g, d), epilogue_of(d.activation),
                      fused_tile_rows(conv_.b, conv_.k, conv_.kernel->mr));
    name_ = std::string(table.dwconv.name) + (residual_ ? "+conv1x1+res:" : "+conv1x1:") + conv_.kernel->name;
  }
  void run(const RunContext& ctx, const float* const* in, float* const* outs) const override {
    float* out = outs[0];
    const Conv2dShape& s = conv_.shape;
    const int pixels = ctx.batch * s.out_h * s.out_w;
    for_pixels(ctx, pixels, conv_.kernel->mr, [&](int p0, int p1, float* scratch) {
      dw_.run(ctx.batch, in[0], scratch, p0, p1, [&](const float* band, int b0, int b1, int first) {
        gemm(*conv_.kernel, b1 - b0, band + size_t(b0 - first) * s.in_c, s.in_c, conv_.b, out + size_t(b0) * s.out_c,
             s.out_c, residual_ ? in[1] + size_t(b0) * s.out_c : nullptr, s.out_c, epilogue_of(act_));
      });
    });
  }
  std::string kernel_name() const override { return name_; }
  int overwritable_input() const override { return residual_ ? 1 : -1; }
  size_t scratch_floats() const override { return dw_.scratch_floats(); }

 private:
  Conv2dGemm conv_;
  DwconvBands dw_;
  Activation act_;
  bool residual_;
  std::string name_;
};

// MobileNet-V2's inverted residual block (expansion 1x1 -> depthwise -> projection 1x1,
// with the residual add if it has one) as one step: mbconv.h.
class MbConvLayer : public Layer {
 public:
  MbConvLayer(const Graph& g, const FusedOps& f, const KernelTable& table) : residual_(f.add >= 0) {
    const OpInfo& e = g.ops[f.expand];
    const OpInfo& d = g.ops[f.dw];
    const OpInfo& p = g.ops[f.first];
    const int in_c = int(shape_of(g, e.inputs[0])[1]), out_c = int(shape_of(g, p.outputs[0])[1]);
    const DwconvShape ds = dwconv_shape(g, d);
    block_ = MbConv(in_c, table.gemm_for(ds.in_c), g.tensors[e.inputs[1]].data, bias_of(g, e), e.activation,
                    table.dwconv, ds, g.tensors[d.inputs[1]].data, bias_of(g, d), d.activation, out_c,
                    table.gemm_for(out_c), g.tensors[p.inputs[1]].data, bias_of(g, p),
                    residual_ ? g.ops[f.add].activation : p.activation);
    name_ = std::string("mbconv:") + block_.expand.kernel->name + "+" + table.dwconv.name + "+" +
            block_.project.kernel->name + (residual_ ? "+res" : "");
  }
  void run(const RunContext& ctx, const float* const* in, float* const* outs) const override {
    const DwconvShape& s = block_.dw_shape;
    const int pixels = ctx.batch * s.out_h * s.out_w;
    for_pixels(ctx, pixels, block_.project.kernel->mr, [&](int p0, int p1, float* scratch) {
      block_.run(in[0], residual_ ? in[1] : nullptr, outs[0], scratch, p0, p1);
    });
  }
  std::string kernel_name() const override { return name_; }
  // No overwritable_input(): never in place, residual or not, since the residual is the block
  // input, whose rows next to a thread's range another thread reads for its expansion.
  size_t scratch_floats() const override { return block_.scratch_floats(); }

 private:
  MbConv block_;
  bool residual_;
  std::string name_;
};

// The first convolution, reading the caller's NCHW input directly.
class StemLayer : public Layer {
 public:
  StemLayer(const Graph& g, const OpInfo& op, StemFn fn, const char* name) : fn_(fn), name_(name), act_(op.activation) {
    const Conv2dShape c = conv_shape(g, op);
    s_ = make_stem_shape(c.in_c, c.in_h, c.in_w, c.out_c, c.out_h, c.out_w, op.window);
    weights_ = pack_stem(s_, g.tensors[op.inputs[1]].data, bias_of(g, op));
  }
  void run(const RunContext& ctx, const float* const* in, float* const* outs) const override {
    float* out = outs[0];
    for (int n = 0; n < ctx.batch; ++n) {
      const float* image = in[0] + size_t(n) * s_.in_c * s_.in_h * s_.in_w;
      ctx.pool->parallel_for(s_.in_c * s_.padded_h, [&](int r0, int r1, int worker) {
        stem_pad_rows(s_, image, ctx.shared_scratch, r0, r1, ctx.worker_scratch(worker));
      });
      float* image_out = out + size_t(n) * s_.out_h * s_.out_w * s_.out_c;
      ctx.pool->parallel_for(s_.out_h, [&](int r0, int r1, int) {
        fn_(StemArgs{&s_, &weights_, ctx.shared_scratch, image_out, epilogue_of(act_), r0, r1});
      });
    }
  }
  std::string kernel_name() const override { return name_; }
  size_t scratch_floats() const override { return stem_pad_scratch_floats(s_); }
  size_t shared_scratch_floats() const override { return stem_padded_floats(s_); }
  bool reads_nchw_input() const override { return true; }

 private:
  StemFn fn_;
  const char* name_;
  StemShape s_;
  PackedStem weights_;
  Activation act_;
};

// Depthwise convolution with any channel multiplier.
class DwconvLayer : public Layer {
 public:
  DwconvLayer(const Graph& g, const OpInfo& op, const KernelTable& table)
      : kernel_(table.dwconv), s_(dwconv_shape(g, op)), act_(op.activation) {
    weights_ = pack_dwconv(s_, kernel_.cw, g.tensors[op.inputs[1]].data, bias_of(g, op));
  }
  void run(const RunContext& ctx, const float* const* in, float* const* outs) const override {
    float* out = outs[0];
    DwconvShape s = s_;
    s.batch = ctx.batch;
    ctx.pool->parallel_for(s.batch * s.out_h, [&](int r0, int r1, int worker) {
      kernel_.fn(DwconvArgs{&s, &weights_, in[0], out, epilogue_of(act_), r0, r1, ctx.worker_scratch(worker)});
    });
  }
  std::string kernel_name() const override { return kernel_.name; }
  size_t scratch_floats() const override { return dwconv_scratch_floats(s_); }

 private:
  DwconvKernel kernel_;
  DwconvShape s_;
  PackedDwconv weights_;
  Activation act_;
};

// The fused module tail: 1x1 -> 1x1 (+ identity or projected shortcut) in one pass, with
// the depthwise convolution before it and the next module's compression after it when the
// fusion plan attached them.
class PwpwLayer : public Layer {
 public:
  PwpwLayer(const Graph& g, const FusedOps& f, const KernelTable& table) {
    const OpInfo& op1 = g.ops[f.first];
    const OpInfo& op2 = g.ops[f.second];
    PwpwShape s;
    const auto& y = shape_of(g, op2.outputs[0]);
    s.c2 = int(shape_of(g, op1.inputs[0])[1]);
    s.c3 = int(shape_of(g, op1.outputs[0])[1]);
    s.cout = int(y[1]);
    s.out_h = int(y[2]), s.out_w = int(y[3]);
    const float* wp = nullptr;
    const float* bp = nullptr;
    if (f.projection >= 0) {
      const OpInfo& p = g.ops[f.projection];
      const auto& x = shape_of(g, p.inputs[0]);
      s.shortcut = Shortcut::kProjection;
      s.x_c = int(x[1]), s.x_h = int(x[2]), s.x_w = int(x[3]);
      s.stride = p.window.stride_h;
      wp = g.tensors[p.inputs[1]].data;
      bp = bias_of(g, p);
    } else if (f.add >= 0) {
      s.shortcut = Shortcut::kIdentity;
    }
    const Activation act_out = f.add >= 0 ? g.ops[f.add].activation : op2.activation;
    Pwpw tail(s, table.gemm_for(s.c3), table.gemm_for(s.cout), g.tensors[op1.inputs[1]].data, bias_of(g, op1),
              g.tensors[op2.inputs[1]].data, bias_of(g, op2), wp, bp, op1.activation, act_out);
    if (f.next >= 0) {
      const OpInfo& n = g.ops[f.next];
      const int c = int(shape_of(g, n.outputs[0])[1]);
      tail.attach_next(table.gemm_for(c), c, g.tensors[n.inputs[1]].data, bias_of(g, n), n.activation);
    }
    name_ = (f.dw >= 0 ? std::string(table.dwconv.name) + "+" : std::string()) + "pwpw" +
            (f.projection >= 0 ? "+proj" : f.add >= 0 ? "+res" : "") + (f.next >= 0 ? "+next:" : ":") +
            tail.second_kernel->name;
    if (f.dw >= 0) {
      const OpInfo& d = g.ops[f.dw];
      body_ = DwPwpw(table.dwconv, dwconv_shape(g, d), g.tensors[d.inputs[1]].data, bias_of(g, d), d.activation,
                     std::move(tail));
    } else {
      body_ = DwPwpw(std::move(tail));
    }
  }
  void run(const RunContext& ctx, const float* const* in, float* const* outs) const override {
    float* out = outs[0];
    const Pwpw& tail = body_.tail;
    const int pixels = ctx.batch * tail.shape.out_h * tail.shape.out_w;
    const float* x = tail.shape.shortcut == Shortcut::kNone ? nullptr : in[1];
    float* next_out = tail.next_kernel ? outs[1] : nullptr;
    for_pixels(ctx, pixels, tail.second_kernel->mr, [&](int p0, int p1, float* scratch) {
      body_.run(ctx.batch, in[0], x, out, scratch, p0, p1, next_out);
    });
  }
  std::string kernel_name() const override { return name_; }
  size_t scratch_floats() const override { return body_.scratch_floats(); }
  int overwritable_input() const override { return body_.tail.shape.shortcut == Shortcut::kIdentity ? 1 : -1; }

 private:
  DwPwpw body_;
  std::string name_;
};

class PoolLayer : public Layer {
 public:
  PoolLayer(const Graph& g, const OpInfo& op, const MaxPoolKernel& maxpool)
      : average_(op.type == OpType::kAvgPool2d), maxpool_(maxpool), w_(op.window), act_(op.activation) {
    const auto& x = shape_of(g, op.inputs[0]);
    const auto& y = shape_of(g, op.outputs[0]);
    c_ = int(x[1]), in_h_ = int(x[2]), in_w_ = int(x[3]), out_h_ = int(y[2]), out_w_ = int(y[3]);
  }
  void run(const RunContext& ctx, const float* const* in, float* const* outs) const override {
    float* out = outs[0];
    ctx.pool->parallel_for(ctx.batch * out_h_, [&](int r0, int r1, int) {
      if (average_) {
        avgpool2d_ref(in_h_, in_w_, c_, out_h_, out_w_, w_, in[0], epilogue_of(act_), out, r0, r1);
      } else {
        maxpool_.fn(in_h_, in_w_, c_, out_h_, out_w_, w_, in[0], epilogue_of(act_), out, r0, r1);
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
  void run(const RunContext& ctx, const float* const* in, float* const* outs) const override {
    float* out = outs[0];
    global_avgpool_ref(ctx.batch, hw_, c_, in[0], epilogue_of(act_), out);
  }
  std::string kernel_name() const override { return "global_avgpool_ref"; }

 private:
  Activation act_;
  int c_, hw_;
};

// Fully connected: the GEMM microkernel over the batch rows (weights packed at load), or
// the reference reading the file's [out, in] weights in place.
class FullyConnectedLayer : public Layer {
 public:
  FullyConnectedLayer(const Graph& g, const OpInfo& op, const KernelTable& table) : act_(op.activation) {
    const TensorInfo& w = g.tensors[op.inputs[1]];
    out_ = int(w.shape[0]), in_ = int(w.shape[1]);
    weight_ = w.data;
    bias_ = bias_of(g, op);
    if (table.isa != Isa::kReference) {
      kernel_ = &table.gemm_for(out_);
      packed_ = pack_gemm_b(in_, out_, *kernel_, bias_, [&](int k, int n) { return weight_[size_t(n) * in_ + k]; });
    }
  }
  void run(const RunContext& ctx, const float* const* in, float* const* outs) const override {
    if (kernel_ == nullptr) {
      fully_connected_ref(ctx.batch, in_, out_, in[0], weight_, bias_, act_, outs[0]);
      return;
    }
    // Split the output columns over threads (batch 1 has a single row).
    ctx.pool->parallel_for(packed_.panels(), [&](int p0, int p1, int) {
      gemm_panels(*kernel_, ctx.batch, in[0], in_, packed_, p0, p1, outs[0], out_, nullptr, 0, epilogue_of(act_));
    });
  }
  std::string kernel_name() const override {
    return kernel_ ? std::string("fc:") + kernel_->name : "fully_connected_ref";
  }

 private:
  Activation act_;
  int in_, out_;
  const float* weight_;
  const float* bias_ = nullptr;
  const GemmKernel* kernel_ = nullptr;
  PackedGemmB packed_;
};

class AddLayer : public Layer {
 public:
  AddLayer(const Graph& g, const OpInfo& op) : act_(op.activation), n_(per_sample(shape_of(g, op.outputs[0]))) {}
  void run(const RunContext& ctx, const float* const* in, float* const* outs) const override {
    float* out = outs[0];
    const int64_t total = n_ * ctx.batch, grain = 4096;
    ctx.pool->parallel_for(int((total + grain - 1) / grain), [&](int b0, int b1, int) {
      const int64_t begin = b0 * grain, end = std::min<int64_t>(total, b1 * grain);
      add_ref(in[0] + begin, in[1] + begin, size_t(end - begin), act_, out + begin);
    });
  }
  std::string kernel_name() const override { return "add_ref"; }

 private:
  Activation act_;
  int64_t n_;
};

class ActivationLayer : public Layer {
 public:
  ActivationLayer(const Graph& g, const OpInfo& op) : act_(op.activation), n_(per_sample(shape_of(g, op.outputs[0]))) {}
  void run(const RunContext& ctx, const float* const* in, float* const* outs) const override {
    float* out = outs[0];
    const size_t n = size_t(n_) * ctx.batch;
    for (size_t i = 0; i < n; ++i) out[i] = activate(act_, in[0][i]);
  }
  std::string kernel_name() const override { return "activation_ref"; }

 private:
  Activation act_;
  int64_t n_;
};

std::unique_ptr<Layer> make_conv_layer(const Graph& g, const OpInfo& op, const KernelTable& table,
                                       const LayerOptions& options) {
  const Conv2dShape s = conv_shape(g, op);
  if (table.isa == Isa::kReference) return std::make_unique<ConvRefLayer>(g, op);  // the plain oracle path
  const bool dilated = op.window.dilation_h != 1 || op.window.dilation_w != 1;
  const bool stem_shape = op.window.groups == 1 && !dilated && op.window.kernel_w > 1 &&
                          (op.window.stride_w == 1 || op.window.stride_w == 2);
  if (options.input_is_nchw_graph_input && table.stem.fn && stem_shape)
    return std::make_unique<StemLayer>(g, op, table.stem.fn, table.stem.name);
  if (op.window.groups == 1 && !dilated) return std::make_unique<ConvGemmLayer>(g, op, table);
  if (op.window.groups == s.in_c && s.out_c % s.in_c == 0) return std::make_unique<DwconvLayer>(g, op, table);
  return std::make_unique<ConvRefLayer>(g, op);
}

}  // namespace

std::unique_ptr<Layer> make_layer(const Graph& g, const FusedOps& f, const KernelTable& table,
                                  const LayerOptions& options) {
  if (f.kind == FusedOps::Kind::kPwpw) return std::make_unique<PwpwLayer>(g, f, table);
  if (f.kind == FusedOps::Kind::kConvGemm && f.expand >= 0) return std::make_unique<MbConvLayer>(g, f, table);
  if (f.kind == FusedOps::Kind::kConvGemm && f.dw >= 0) return std::make_unique<DwConv1x1Layer>(g, f, table);
  if (f.kind == FusedOps::Kind::kConvGemm)
    return std::make_unique<ConvGemmLayer>(g, g.ops[f.first], table, true, g.ops[f.add].activation);
  const OpInfo& op = g.ops[f.op];
  switch (op.type) {
    case OpType::kConv2d: return make_conv_layer(g, op, table, options);
    case OpType::kMaxPool2d:
    case OpType::kAvgPool2d: return std::make_unique<PoolLayer>(g, op, table.maxpool);
    case OpType::kGlobalAvgPool: return std::make_unique<GlobalAvgPoolLayer>(g, op);
    case OpType::kFullyConnected: return std::make_unique<FullyConnectedLayer>(g, op, table);
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
