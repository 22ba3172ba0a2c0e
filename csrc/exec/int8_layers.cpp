#include "exec/int8_layers.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "exec/for_pixels.h"
#include "exec/int8_params.h"
#include "exec/op_shapes.h"
#include "kernels/dispatch/qkernel_table.h"
#include "kernels/quant/requantize.h"
#include "util/error.h"

namespace attocore {
namespace {

const TensorInfo& input_of(const Graph& g, const OpInfo& op, size_t i = 0) { return g.tensors[op.inputs[i]]; }
const TensorInfo& output_of(const Graph& g, const OpInfo& op) { return g.tensors[op.outputs[0]]; }

int64_t per_sample(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (size_t i = 1; i < shape.size(); ++i) n *= shape[i];
  return n;
}

const int8_t* in8(const StepBuffers& io) { return reinterpret_cast<const int8_t*>(io.input); }
int8_t* out8(const StepBuffers& io) { return reinterpret_cast<int8_t*>(io.output); }

// A dense convolution: a 1x1 of stride 1 without padding is the GEMM on NHWC rows as they
// are; any other gathers each output row's windows into per-thread scratch first (im2col,
// taps outside the image set to the input's zero point, so they add nothing).
class Int8ConvGemmLayer : public Layer {
 public:
  Int8ConvGemmLayer(const Graph& g, const OpInfo& op, const QGemmKernel& kernel)
      : s_(conv_shape(g, op)), kernel_(kernel), ep_(int8_epilogue(g, op)) {
    const WindowAttrs& w = s_.window;
    const bool pointwise = w.kernel_h == 1 && w.kernel_w == 1 && w.pad_top == 0 && w.pad_left == 0 &&
                           w.pad_bottom == 0 && w.pad_right == 0;
    direct_ = pointwise && w.stride_h == 1 && w.stride_w == 1;
    // A strided 1x1 (a module's projection) reads every stride-th pixel of every stride-th
    // row: the GEMM's row stride does the gathering.
    strided_ = pointwise && !direct_;
    depth_ = s_.in_c * w.kernel_h * w.kernel_w;
    x_zp_ = input_of(g, op).zero_point;
    // The file's OIHW as [O][(ky, kx, c)]: the order im2col writes a window in (NHWC taps).
    const int8_t* oihw = input_of(g, op, 1).int8_data();
    std::vector<int8_t> w_nk(size_t(s_.out_c) * depth_);
    for (int o = 0; o < s_.out_c; ++o)
      for (int c = 0; c < s_.in_c; ++c)
        for (int ky = 0; ky < w.kernel_h; ++ky)
          for (int kx = 0; kx < w.kernel_w; ++kx)
            w_nk[size_t(o) * depth_ + (ky * w.kernel_w + kx) * s_.in_c + c] =
                oihw[((size_t(o) * s_.in_c + c) * w.kernel_h + ky) * w.kernel_w + kx];
    const std::vector<float> m = int8_conv_multipliers(g, op, s_.out_c);
    packed_ = kernel_.pack(s_.out_c, depth_, w_nk.data(), int8_bias(g, op), m.data(), x_zp_);
  }

  void run(const RunContext& ctx, const StepBuffers& io) const override {
    const int8_t* x = in8(io);
    int8_t* y = out8(io);
    if (direct_) {
      for_pixels(ctx, ctx.batch * s_.out_h * s_.out_w, 16, [&](int p0, int p1, float*) {
        kernel_.fn(QGemmArgs{&packed_, x + size_t(p0) * s_.in_c, size_t(s_.in_c), y + size_t(p0) * s_.out_c,
                             size_t(s_.out_c), p1 - p0, ep_});
      });
      return;
    }
    if (strided_) {
      const WindowAttrs& w = s_.window;
      ctx.pool->parallel_for(ctx.batch * s_.out_h, [&](int r0, int r1, int) {
        for (int row = r0; row < r1; ++row) {
          const int n = row / s_.out_h, oy = row % s_.out_h;
          const int8_t* first = x + ((size_t(n) * s_.in_h + size_t(oy) * w.stride_h) * s_.in_w) * s_.in_c;
          kernel_.fn(QGemmArgs{&packed_, first, size_t(w.stride_w) * s_.in_c,
                               y + size_t(row) * s_.out_w * s_.out_c, size_t(s_.out_c), s_.out_w, ep_});
        }
      });
      return;
    }
    ctx.pool->parallel_for(ctx.batch * s_.out_h, [&](int r0, int r1, int worker) {
      int8_t* cols = reinterpret_cast<int8_t*>(ctx.worker_scratch(worker));
      for (int row = r0; row < r1; ++row) {
        gather_row(x, row, cols);
        kernel_.fn(QGemmArgs{&packed_, cols, size_t(depth_), y + size_t(row) * s_.out_w * s_.out_c, size_t(s_.out_c),
                             s_.out_w, ep_});
      }
    });
  }

  size_t scratch_floats() const override { return direct_ || strided_ ? 0 : (size_t(s_.out_w) * depth_ + 3) / 4; }
  std::string kernel_name() const override {
    return std::string(kernel_.name) + (direct_ ? "" : strided_ ? "+strided" : "+im2col");
  }

 private:
  void gather_row(const int8_t* x, int row, int8_t* cols) const {
    const WindowAttrs& w = s_.window;
    const int n = row / s_.out_h, oy = row % s_.out_h;
    const int8_t* image = x + size_t(n) * s_.in_h * s_.in_w * s_.in_c;
    for (int ox = 0; ox < s_.out_w; ++ox) {
      int8_t* dst = cols + size_t(ox) * depth_;
      for (int ky = 0; ky < w.kernel_h; ++ky) {
        const int iy = oy * w.stride_h - w.pad_top + ky * w.dilation_h;
        for (int kx = 0; kx < w.kernel_w; ++kx, dst += s_.in_c) {
          const int ix = ox * w.stride_w - w.pad_left + kx * w.dilation_w;
          if (iy < 0 || iy >= s_.in_h || ix < 0 || ix >= s_.in_w)
            std::fill(dst, dst + s_.in_c, int8_t(x_zp_));
          else
            std::copy_n(image + (size_t(iy) * s_.in_w + ix) * s_.in_c, s_.in_c, dst);
        }
      }
    }
  }

  Conv2dShape s_;
  QGemmKernel kernel_;
  QuantEpilogue ep_;
  bool direct_ = false, strided_ = false;
  int depth_ = 0;
  int32_t x_zp_ = 0;
  PackedQGemm packed_;
};

class Int8DwconvLayer : public Layer {
 public:
  Int8DwconvLayer(const Graph& g, const OpInfo& op, const QDwconvKernel& kernel)
      : s_(dwconv_shape(g, op)), kernel_(kernel), ep_(int8_epilogue(g, op)) {
    const std::vector<float> m = int8_conv_multipliers(g, op, s_.out_c);
    packed_ = kernel_.pack(s_, input_of(g, op, 1).int8_data(), int8_bias(g, op), m.data(), input_of(g, op).zero_point);
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    DwconvShape s = s_;
    s.batch = ctx.batch;
    ctx.pool->parallel_for(s.batch * s.out_h, [&](int r0, int r1, int worker) {
      kernel_.fn(QDwconvArgs{&s, &packed_, in8(io), out8(io), ep_, r0, r1, ctx.worker_scratch(worker)});
    });
  }
  size_t scratch_floats() const override { return (qdwconv_scratch_bytes(s_) + 3) / 4; }
  std::string kernel_name() const override { return kernel_.name; }

 private:
  DwconvShape s_;
  QDwconvKernel kernel_;
  QuantEpilogue ep_;
  PackedQDwconv packed_;
};

// Grouped convolutions other than depthwise: the definition, one output at a time (no
// network of the zoo has one; correct, not fast).
class Int8GroupedConvLayer : public Layer {
 public:
  Int8GroupedConvLayer(const Graph& g, const OpInfo& op)
      : s_(conv_shape(g, op)), ep_(int8_epilogue(g, op)),
        m_(int8_conv_multipliers(g, op, s_.out_c)), x_zp_(input_of(g, op).zero_point) {
    const TensorInfo& w = input_of(g, op, 1);
    w_.assign(w.int8_data(), w.int8_data() + w.elements);
    bias_.assign(s_.out_c, 0);
    if (const int32_t* b = int8_bias(g, op)) bias_.assign(b, b + s_.out_c);
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    const WindowAttrs& w = s_.window;
    const int cin_g = s_.in_c / w.groups, cout_g = s_.out_c / w.groups;
    ctx.pool->parallel_for(ctx.batch * s_.out_h, [&](int r0, int r1, int) {
      for (int row = r0; row < r1; ++row) {
        const int n = row / s_.out_h, oy = row % s_.out_h;
        const int8_t* image = in8(io) + size_t(n) * s_.in_h * s_.in_w * s_.in_c;
        for (int ox = 0; ox < s_.out_w; ++ox)
          for (int o = 0; o < s_.out_c; ++o) {
            const int c0 = o / cout_g * cin_g;
            int32_t acc = bias_[o];
            for (int ky = 0; ky < w.kernel_h; ++ky) {
              const int iy = oy * w.stride_h - w.pad_top + ky * w.dilation_h;
              if (iy < 0 || iy >= s_.in_h) continue;
              for (int kx = 0; kx < w.kernel_w; ++kx) {
                const int ix = ox * w.stride_w - w.pad_left + kx * w.dilation_w;
                if (ix < 0 || ix >= s_.in_w) continue;
                const int8_t* px = image + (size_t(iy) * s_.in_w + ix) * s_.in_c + c0;
                for (int c = 0; c < cin_g; ++c)
                  acc += (px[c] - x_zp_) * int32_t(w_[((size_t(o) * cin_g + c) * w.kernel_h + ky) * w.kernel_w + kx]);
              }
            }
            out8(io)[(size_t(row) * s_.out_w + ox) * s_.out_c + o] = requantize(acc, m_[o], ep_);
          }
      }
    });
  }
  std::string kernel_name() const override { return "int8_grouped_conv_ref"; }

 private:
  Conv2dShape s_;
  QuantEpilogue ep_;
  std::vector<float> m_;
  int32_t x_zp_;
  std::vector<int8_t> w_;
  std::vector<int32_t> bias_;
};

class Int8FullyConnectedLayer : public Layer {
 public:
  Int8FullyConnectedLayer(const Graph& g, const OpInfo& op, const QGemmKernel& kernel)
      : kernel_(kernel), ep_(int8_epilogue(g, op)) {
    const TensorInfo& w = input_of(g, op, 1);
    n_ = int(w.shape[0]), k_ = int(w.shape[1]);
    const std::vector<float> m = int8_conv_multipliers(g, op, n_);
    packed_ = kernel_.pack(n_, k_, w.int8_data(), int8_bias(g, op), m.data(), input_of(g, op).zero_point);
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    kernel_.fn(QGemmArgs{&packed_, in8(io), size_t(k_), out8(io), size_t(n_), ctx.batch, ep_});
  }
  std::string kernel_name() const override { return kernel_.name; }

 private:
  QGemmKernel kernel_;
  QuantEpilogue ep_;
  int n_ = 0, k_ = 0;
  PackedQGemm packed_;
};

// Max pool on the codes themselves (kernels/qmaxpool/qmaxpool.h).
class Int8MaxPoolLayer : public Layer {
 public:
  Int8MaxPoolLayer(const Graph& g, const OpInfo& op, const QMaxPoolKernel& kernel)
      : s_(conv_shape(g, op)), kernel_(kernel) {
    const QuantEpilogue ep = int8_epilogue(g, op);
    lo_ = int8_t(ep.lo), hi_ = int8_t(ep.hi);
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    ctx.pool->parallel_for(ctx.batch * s_.out_h, [&](int r0, int r1, int worker) {
      kernel_.fn(QMaxPoolArgs{s_.in_h, s_.in_w, s_.in_c, s_.out_h, s_.out_w, &s_.window, in8(io), out8(io), lo_, hi_,
                              r0, r1, ctx.worker_scratch(worker)});
    });
  }
  size_t scratch_floats() const override { return (qmaxpool_scratch_bytes(s_.in_w, s_.in_c, s_.window) + 3) / 4; }
  std::string kernel_name() const override { return kernel_.name; }

 private:
  Conv2dShape s_;
  QMaxPoolKernel kernel_;
  int8_t lo_ = -128, hi_ = 127;
};

// Sum in 64 bits (an image may have up to 2^31 pixels), then the requantization of that sum
// with multiplier input scale / output scale / pixels.
class Int8GlobalAvgPoolLayer : public Layer {
 public:
  Int8GlobalAvgPoolLayer(const Graph& g, const OpInfo& op)
      : c_(int(input_of(g, op).shape[1])), hw_(input_of(g, op).shape[2] * input_of(g, op).shape[3]),
        zp_(input_of(g, op).zero_point), ep_(int8_epilogue(g, op)) {
    m_ = input_of(g, op).scales[0] / output_of(g, op).scales[0] / float(hw_);
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    // The channel sums in the step's scratch (this step runs on the calling thread alone): no
    // allocation per run.
    int64_t* sums = reinterpret_cast<int64_t*>(ctx.worker_scratch(0));
    for (int n = 0; n < ctx.batch; ++n) {
      std::fill(sums, sums + c_, -int64_t(zp_) * hw_);
      const int8_t* image = in8(io) + size_t(n) * hw_ * c_;
      for (int64_t p = 0; p < hw_; ++p)
        for (int c = 0; c < c_; ++c) sums[c] += image[size_t(p) * c_ + c];
      // The 64-bit sum converts to float32 directly (rounding to nearest even, as every
      // target's conversion does): no image is too large for it.
      for (int c = 0; c < c_; ++c) out8(io)[size_t(n) * c_ + c] = requantize_scaled(float(sums[c]) * m_, ep_);
    }
  }
  size_t scratch_floats() const override { return 2 * size_t(c_); }
  std::string kernel_name() const override { return "int8_global_avgpool_ref"; }

 private:
  int c_;
  int64_t hw_;
  int32_t zp_;
  QuantEpilogue ep_;
  float m_ = 0;
};

// y = requantize of (a - za) * sa / sy + (b - zb) * sb / sy (kernels/qadd/qadd.h).
class Int8AddLayer : public Layer {
  static constexpr int64_t kChunk = 1 << 14;

 public:
  Int8AddLayer(const Graph& g, const OpInfo& op, const QAddKernel& kernel)
      : n_(per_sample(output_of(g, op).shape)), kernel_(kernel) {
    p_ = int8_add_params(g, op);
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    const int8_t* a = in8(io);
    const int8_t* b = reinterpret_cast<const int8_t*>(io.shortcut);
    int8_t* y = out8(io);
    const int64_t total = n_ * ctx.batch;
    ctx.pool->parallel_for(int((total + kChunk - 1) / kChunk), [&](int c0, int c1, int) {
      const int64_t begin = int64_t(c0) * kChunk, end = std::min(total, int64_t(c1) * kChunk);
      kernel_.fn(a + begin, b + begin, y + begin, size_t(end - begin), p_);
    });
  }
  std::string kernel_name() const override { return kernel_.name; }
  std::optional<InputPort> overwritable_input() const override { return InputPort::kInput; }

 private:
  int64_t n_;
  QAddKernel kernel_;
  QAddParams p_;
};

// float -> int8 (kernels/quantize/quantize.h), in chunks across the threads.
class QuantizeLayer : public Layer {
  static constexpr int64_t kChunk = 1 << 14;

 public:
  QuantizeLayer(const Graph& g, const OpInfo& op, const QuantizeKernel& kernel)
      : n_(per_sample(output_of(g, op).shape)), s_(output_of(g, op).scales[0]), zp_(output_of(g, op).zero_point),
        kernel_(kernel) {}
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    const int64_t total = n_ * ctx.batch;
    ctx.pool->parallel_for(int((total + kChunk - 1) / kChunk), [&](int c0, int c1, int) {
      const int64_t begin = int64_t(c0) * kChunk, end = std::min(total, int64_t(c1) * kChunk);
      kernel_.fn(io.input + begin, out8(io) + begin, size_t(end - begin), s_, zp_);
    });
  }
  std::string kernel_name() const override { return kernel_.name; }

 private:
  int64_t n_;
  float s_;
  int32_t zp_;
  QuantizeKernel kernel_;
};

class DequantizeLayer : public Layer {
 public:
  DequantizeLayer(const Graph& g, const OpInfo& op)
      : n_(per_sample(output_of(g, op).shape)), s_(input_of(g, op).scales[0]), zp_(input_of(g, op).zero_point) {}
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    const int64_t total = n_ * ctx.batch;
    for (int64_t i = 0; i < total; ++i) io.output[i] = float(in8(io)[i] - zp_) * s_;
  }
  std::string kernel_name() const override { return "dequantize_ref"; }

 private:
  int64_t n_;
  float s_;
  int32_t zp_;
};

}  // namespace

std::unique_ptr<Layer> make_int8_layer(const Graph& g, const OpInfo& op, Isa isa) {
  switch (op.type) {
    case OpType::kQuantize: return std::make_unique<QuantizeLayer>(g, op, quantize_kernel(isa));
    case OpType::kDequantize: return std::make_unique<DequantizeLayer>(g, op);
    case OpType::kConv2d: {
      const Conv2dShape s = conv_shape(g, op);
      if (op.window.groups == 1) return std::make_unique<Int8ConvGemmLayer>(g, op, qgemm_kernel(isa));
      if (op.window.groups == s.in_c && s.out_c % s.in_c == 0)
        return std::make_unique<Int8DwconvLayer>(g, op, qdwconv_kernel(isa));
      return std::make_unique<Int8GroupedConvLayer>(g, op);
    }
    case OpType::kFullyConnected: return std::make_unique<Int8FullyConnectedLayer>(g, op, qgemm_kernel(isa));
    case OpType::kMaxPool2d: return std::make_unique<Int8MaxPoolLayer>(g, op, qmaxpool_kernel(isa));
    case OpType::kGlobalAvgPool: return std::make_unique<Int8GlobalAvgPoolLayer>(g, op);
    case OpType::kAdd: return std::make_unique<Int8AddLayer>(g, op, qadd_kernel(isa));
    default: break;
  }
  fail(ErrorCode::kUnsupported, "op '" + op.name + "' (" + op_type_name(op.type) + "): no int8 kernel");
}

}  // namespace attocore
