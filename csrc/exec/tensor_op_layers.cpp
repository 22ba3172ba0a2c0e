#include "exec/tensor_op_layers.h"

#include <algorithm>
#include <vector>

#include "exec/for_pixels.h"
#include "exec/op_shapes.h"
#include "graph/activation_epilogue.h"
#include "kernels/channels/channels_ref.h"
#include "kernels/conv_transpose/conv_transpose_ref.h"
#include "kernels/eltwise/activation.h"
#include "kernels/gemm/gemm.h"
#include "kernels/resize/resize_ref.h"
#include "kernels/softmax/softmax_ref.h"

namespace attocore {
namespace {

// Pixels of one image: H * W of its 4-D view (L of an [N, C, L] tensor, 1 of an [N, C] one).
int64_t pixels_of(const std::vector<int64_t>& shape) { return view4(shape).d[2] * view4(shape).d[3]; }

constexpr int64_t kPixelGrain = 256;  // pixels per block of the per-pixel ops

// Along the channels: each input copied into its channel range of every output pixel.
class ConcatLayer : public Layer {
 public:
  ConcatLayer(const Graph& g, const OpInfo& op) : act_(op.activation) {
    for (int t : op.inputs) channels_.push_back(int(shape_of(g, t)[1]));
    out_c_ = int(shape_of(g, op.outputs[0])[1]);
    pixels_ = pixels_of(shape_of(g, op.outputs[0]));
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    for_ranges(ctx, pixels_ * ctx.batch, kPixelGrain, [&](int64_t p0, int64_t p1) {
      int at = 0;
      for (size_t i = 0; i < channels_.size(); ++i) {
        copy_channels_into(io.read(int(i)), channels_[i], io.output, out_c_, at, size_t(p0), size_t(p1));
        at += channels_[i];
      }
      if (act_ != Activation::kNone)
        clip_ref(io.output + p0 * out_c_, size_t(p1 - p0) * out_c_, epilogue_of(act_).min, epilogue_of(act_).max,
                 Activation::kNone, io.output + p0 * out_c_);
    });
  }
  std::string kernel_name() const override { return "concat_ref"; }

 private:
  Activation act_;
  std::vector<int> channels_;
  int out_c_ = 0;
  int64_t pixels_ = 0;
};

// The ops that map each pixel's channels to the output pixel's: slice, shuffle, softmax.
class PerPixelLayer : public Layer {
 public:
  PerPixelLayer(const Graph& g, const OpInfo& op) : op_(op) {
    in_c_ = int(shape_of(g, op.inputs[0])[1]);
    out_c_ = int(shape_of(g, op.outputs[0])[1]);
    pixels_ = pixels_of(shape_of(g, op.inputs[0]));
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    for_ranges(ctx, pixels_ * ctx.batch, kPixelGrain, [&](int64_t p0, int64_t p1) {
      const size_t a = size_t(p0), b = size_t(p1);
      switch (op_.type) {
        case OpType::kSlice: slice_channels(io.input, in_c_, op_.attrs.begin, out_c_, io.output, a, b); break;
        case OpType::kChannelShuffle: shuffle_channels(io.input, in_c_, op_.window.groups, io.output, a, b); break;
        default: softmax_rows(io.input, in_c_, io.output, a, b); break;
      }
      if (op_.activation != Activation::kNone) {
        const Epilogue ep = epilogue_of(op_.activation);
        clip_ref(io.output + a * out_c_, (b - a) * out_c_, ep.min, ep.max, Activation::kNone, io.output + a * out_c_);
      }
    });
  }
  std::string kernel_name() const override {
    return op_.type == OpType::kSlice ? "slice_ref" : op_.type == OpType::kChannelShuffle ? "shuffle_ref" : "softmax_ref";
  }

 private:
  OpInfo op_;
  int in_c_ = 0, out_c_ = 0;
  int64_t pixels_ = 0;
};

// Resize and pad: whole output rows from the input's.
class RowsLayer : public Layer {
 public:
  RowsLayer(const Graph& g, const OpInfo& op) : op_(op) {
    const auto& x = shape_of(g, op.inputs[0]);
    c_ = int(x[1]), h_ = int(x[2]), w_ = int(x[3]);
    out_h_ = int(shape_of(g, op.outputs[0])[2]), out_w_ = int(shape_of(g, op.outputs[0])[3]);
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    ctx.pool->parallel_for(ctx.batch * out_h_, [&](int r0, int r1, int) {
      const WindowAttrs& w = op_.window;
      const OpAttrs& a = op_.attrs;
      if (op_.type == OpType::kPad) {
        zero_pad_rows(io.input, h_, w_, c_, w.pad_top, w.pad_left, w.pad_bottom, w.pad_right, io.output, r0, r1);
      } else if (a.mode == ResizeMode::kNearest) {
        resize_nearest_rows(io.input, h_, w_, c_, a.scale_h, a.scale_w, io.output, r0, r1);
      } else {
        resize_bilinear_rows(io.input, h_, w_, c_, a.scale_h, a.scale_w, io.output, r0, r1);
      }
      if (op_.activation != Activation::kNone) {
        const Epilogue ep = epilogue_of(op_.activation);
        float* rows = io.output + size_t(r0) * out_w_ * c_;
        clip_ref(rows, size_t(r1 - r0) * out_w_ * c_, ep.min, ep.max, Activation::kNone, rows);
      }
    });
  }
  std::string kernel_name() const override {
    return op_.type == OpType::kPad ? "pad_ref" : op_.attrs.mode == ResizeMode::kNearest ? "resize_nearest_ref"
                                                                                           : "resize_bilinear_ref";
  }

 private:
  OpInfo op_;
  int c_ = 0, h_ = 0, w_ = 0, out_h_ = 0, out_w_ = 0;
};

// PReLU (per channel or one slope) and clip to constant bounds, elementwise.
class PreluClipLayer : public Layer {
 public:
  PreluClipLayer(const Graph& g, const OpInfo& op) : type_(op.type), act_(op.activation) {
    const TensorInfo& k = g.tensors[op.inputs[1]];
    constants_.assign(k.data, k.data + k.elements);
    channels_ = shape_of(g, op.inputs[0])[1];
    per_image_ = g.tensors[op.inputs[0]].elements;
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    if (type_ == OpType::kClip) {
      for_ranges(ctx, per_image_ * ctx.batch, 4096, [&](int64_t i0, int64_t i1) {
        clip_ref(io.input + i0, size_t(i1 - i0), constants_[0], constants_[1], act_, io.output + i0);
      });
      return;
    }
    const bool per_channel = constants_.size() > 1;
    for_ranges(ctx, per_image_ / channels_ * ctx.batch, kPixelGrain, [&](int64_t p0, int64_t p1) {
      prelu_ref(io.input + p0 * channels_, constants_.data(), size_t(p1 - p0), size_t(channels_), per_channel, act_,
                io.output + p0 * channels_);
    });
  }
  std::string kernel_name() const override { return type_ == OpType::kClip ? "clip_ref" : "prelu_ref"; }
  std::optional<InputPort> overwritable_input() const override { return InputPort::kInput; }

 private:
  OpType type_;
  Activation act_;
  std::vector<float> constants_;
  int64_t channels_ = 0, per_image_ = 0;
};

// Any transposed convolution, by the gathering reference.
class ConvTransposeRefLayer : public Layer {
 public:
  ConvTransposeRefLayer(const Graph& g, const OpInfo& op) : s_(conv_shape(g, op)), act_(op.activation) {
    packed_ = pack_conv_transpose_ref(s_, weights_of(g, op));
    if (const float* b = bias_of(g, op)) bias_.assign(b, b + s_.out_c);
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    ctx.pool->parallel_for(ctx.batch * s_.out_h, [&](int r0, int r1, int) {
      conv_transpose_ref(s_, io.input, packed_.data(), bias_.empty() ? nullptr : bias_.data(), act_, io.output, r0, r1);
    });
  }
  std::string kernel_name() const override { return "conv_transpose_ref"; }

 private:
  ConvTransposeShape s_;
  Activation act_;
  std::vector<float> packed_, bias_;
};

// A transposed convolution whose windows do not overlap (kernel = stride, no padding,
// dilation or groups: the 2x up-sampling of FPN and DB heads) is a GEMM: each input pixel
// times W, [in] x [in, kh * kw * out], gives its kh x kw block of output pixels, which are
// then copied into place. Bias and clamp ride in the GEMM's epilogue: every output value is
// exactly one product row's.
class ConvTransposeGemmLayer : public Layer {
 public:
  static bool fits(const OpInfo& op) {
    const WindowAttrs& w = op.window;
    return w.kernel_h == w.stride_h && w.kernel_w == w.stride_w && w.dilation_h == 1 && w.dilation_w == 1 &&
           w.groups == 1 && w.pad_top == 0 && w.pad_left == 0 && w.pad_bottom == 0 && w.pad_right == 0 &&
           w.output_pad_h == 0 && w.output_pad_w == 0;
  }
  ConvTransposeGemmLayer(const Graph& g, const OpInfo& op, const KernelTable& table)
      : s_(conv_shape(g, op)), act_(op.activation) {
    const WindowAttrs& w = s_.window;
    taps_ = w.kernel_h * w.kernel_w;
    const int n = taps_ * s_.out_c;
    kernel_ = &table.gemm_for(n);
    const float* wt = weights_of(g, op);  // [in, out, kh, kw]
    const float* b = bias_of(g, op);
    std::vector<float> bias(size_t(n), 0.f);
    for (int t = 0; t < taps_ && b; ++t) std::copy(b, b + s_.out_c, bias.begin() + size_t(t) * s_.out_c);
    // Column j = tap * out + co, tap = ky * kw + kx.
    packed_ = pack_gemm_b(s_.in_c, n, *kernel_, bias.data(), [&](int ci, int j) {
      const int tap = j / s_.out_c, co = j % s_.out_c;
      return wt[(size_t(ci) * s_.out_c + co) * taps_ + tap];
    });
    tile_ = std::max(kernel_->mr, 64 / kernel_->mr * kernel_->mr);
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    const WindowAttrs& w = s_.window;
    const int pixels = ctx.batch * s_.in_h * s_.in_w, n = taps_ * s_.out_c;
    for_pixels(ctx, pixels, kernel_->mr, [&](int p0, int p1, float* scratch) {
      for (int p = p0; p < p1; p += tile_) {
        const int rows = std::min(tile_, p1 - p);
        gemm(*kernel_, rows, io.input + size_t(p) * s_.in_c, size_t(s_.in_c), packed_, scratch, size_t(n), nullptr, 0,
             epilogue_of(act_));
        for (int r = 0; r < rows; ++r) {
          const int q = p + r, img = q / (s_.in_h * s_.in_w), iy = q / s_.in_w % s_.in_h, ix = q % s_.in_w;
          for (int ky = 0; ky < w.kernel_h; ++ky) {
            float* dst = io.output + ((size_t(img) * s_.out_h + size_t(iy) * w.stride_h + ky) * s_.out_w +
                                      size_t(ix) * w.stride_w) * s_.out_c;
            std::copy_n(scratch + size_t(r) * n + size_t(ky) * w.kernel_w * s_.out_c, size_t(w.kernel_w) * s_.out_c, dst);
          }
        }
      }
    });
  }
  std::string kernel_name() const override { return std::string("conv_transpose_gemm:") + kernel_->name; }
  size_t scratch_floats() const override { return size_t(tile_) * taps_ * s_.out_c; }

 private:
  ConvTransposeShape s_;
  Activation act_;
  int taps_ = 1, tile_ = 1;
  const GemmKernel* kernel_ = nullptr;
  PackedGemmB packed_;
};

}  // namespace

std::unique_ptr<Layer> make_tensor_op_layer(const Graph& g, const OpInfo& op, const KernelTable& table) {
  switch (op.type) {
    case OpType::kConcat: return std::make_unique<ConcatLayer>(g, op);
    case OpType::kSlice:
    case OpType::kChannelShuffle:
    case OpType::kSoftmax: return std::make_unique<PerPixelLayer>(g, op);
    case OpType::kResize:
    case OpType::kPad: return std::make_unique<RowsLayer>(g, op);
    case OpType::kPrelu:
    case OpType::kClip: return std::make_unique<PreluClipLayer>(g, op);
    case OpType::kConvTranspose:
      if (table.isa != Isa::kReference && ConvTransposeGemmLayer::fits(op))
        return std::make_unique<ConvTransposeGemmLayer>(g, op, table);
      return std::make_unique<ConvTransposeRefLayer>(g, op);
    default: return nullptr;
  }
}

}  // namespace attocore
