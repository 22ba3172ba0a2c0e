#include "exec/shape_op_layers.h"

#include <cstring>
#include <vector>

#include "exec/for_pixels.h"
#include "exec/op_shapes.h"
#include "graph/activation_epilogue.h"
#include "kernels/eltwise/activation.h"
#include "kernels/eltwise/eltwise_const_ref.h"
#include "kernels/reduce/reduce_mean_ref.h"
#include "kernels/reshape/reshape_ref.h"
#include "kernels/softmax/softmax_ref.h"

namespace attocore {
namespace {

// The clamp an op of these carries (validate.cpp allows only none, ReLU and ReLU6 here),
// applied to the floats [i0, i1) it has just written.
void clamp(Activation act, float* y, int64_t i0, int64_t i1) {
  if (act == Activation::kNone) return;
  const Epilogue ep = epilogue_of(act);
  clip_ref(y + i0, size_t(i1 - i0), ep.min, ep.max, Activation::kNone, y + i0);
}

// The base class's bookkeeping: input and output views and the op's clamp.
class ShapeOpLayer : public Layer {
 public:
  ShapeOpLayer(const Graph& g, const OpInfo& op, const char* kernel)
      : in_(view4(shape_of(g, op.inputs[0]))), out_(view4(shape_of(g, op.outputs[0]))),
        rank_(shape_of(g, op.inputs[0]).size()), act_(op.activation), kernel_(kernel) {}
  std::string kernel_name() const override { return kernel_; }

 protected:
  // Storage blocks along view dimension `dim` (2 or 3) of a view: how many blocks there are
  // per image, and the floats one step along `dim` spans.
  static int64_t blocks_per_image(const View4& v, int dim) { return dim == 3 ? v.d[2] : 1; }
  static int64_t unit(const View4& v, int dim) { return dim == 2 ? v.d[3] * v.d[1] : v.d[1]; }
  void clamp_all(const RunContext& ctx, float* y) const {
    if (act_ == Activation::kNone) return;
    for_ranges(ctx, out_.per_image() * ctx.batch, 4096, [&](int64_t i0, int64_t i1) { clamp(act_, y, i0, i1); });
  }

  View4 in_, out_;
  size_t rank_;
  Activation act_;
  const char* kernel_;
};

class ReshapeLayer final : public ShapeOpLayer {
 public:
  ReshapeLayer(const Graph& g, const OpInfo& op) : ShapeOpLayer(g, op, "reshape_ref") {
    // The same channels (a flatten of H and W, a split or merge of them): the NHWC bytes stay.
    same_bytes_ = in_.d[1] == out_.d[1];
    if (same_bytes_) kernel_ = "reshape_copy";
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    if (same_bytes_) {
      for_ranges(ctx, out_.per_image() * ctx.batch, 1 << 16, [&](int64_t i0, int64_t i1) {
        std::memcpy(io.output + i0, io.input + i0, size_t(i1 - i0) * sizeof(float));
        clamp(act_, io.output, i0, i1);
      });
      return;
    }
    View4 in = in_, out = out_;
    in.d[0] = out.d[0] = ctx.batch;
    for_ranges(ctx, ctx.batch * out.d[1], 1, [&](int64_t q0, int64_t q1) {
      reshape_planes(io.input, in.d, io.output, out.d, q0, q1);
    });
    clamp_all(ctx, io.output);
  }

 private:
  bool same_bytes_ = false;
};

class TransposeLayer final : public ShapeOpLayer {
 public:
  TransposeLayer(const Graph& g, const OpInfo& op) : ShapeOpLayer(g, op, "transpose_ref") {
    for (int k = 0; k < 4; ++k) perm_[k] = k;
    for (size_t k = 0; k < rank_; ++k) perm_[view4_dim(rank_, int(k))] = view4_dim(rank_, op.attrs.perm[k]);
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    View4 in = in_;
    in.d[0] = ctx.batch;
    for_ranges(ctx, ctx.batch * out_.d[2], 1, [&](int64_t r0, int64_t r1) {
      transpose_rows(io.input, in.d, perm_, io.output, r0, r1);
    });
    clamp_all(ctx, io.output);
  }

 private:
  int perm_[4];
};

// Concat and slice along view dimension 2 or 3: whole storage blocks per image (or row).
class AxisCopyLayer final : public ShapeOpLayer {
 public:
  AxisCopyLayer(const Graph& g, const OpInfo& op)
      : ShapeOpLayer(g, op, op.type == OpType::kConcat ? "concat_axis_ref" : "slice_axis_ref"),
        dim_(view4_dim(rank_, op.attrs.axis)) {
    out_block_ = unit(out_, dim_) * out_.d[dim_];
    if (op.type == OpType::kConcat) {
      for (int t : op.inputs) {
        const View4 v = view4(shape_of(g, t));
        blocks_.push_back(unit(v, dim_) * v.d[dim_]);
      }
    } else {
      in_block_ = unit(in_, dim_) * in_.d[dim_];
      offset_ = unit(in_, dim_) * op.attrs.begin;
    }
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    const int64_t blocks = blocks_per_image(out_, dim_) * ctx.batch;
    for_ranges(ctx, blocks, 64, [&](int64_t o0, int64_t o1) {
      if (blocks_.empty()) {
        copy_blocks(io.input + offset_, in_block_, io.output, out_block_, out_block_, o0, o1);
      } else {
        int64_t at = 0;
        for (size_t i = 0; i < blocks_.size(); ++i) {
          copy_blocks(io.read(int(i)), blocks_[i], io.output + at, out_block_, blocks_[i], o0, o1);
          at += blocks_[i];
        }
      }
      clamp(act_, io.output, o0 * out_block_, o1 * out_block_);
    });
  }

 private:
  int dim_;
  int64_t out_block_ = 0, in_block_ = 0, offset_ = 0;
  std::vector<int64_t> blocks_;  // concat: each input's block
};

class AxisSoftmaxLayer final : public ShapeOpLayer {
 public:
  AxisSoftmaxLayer(const Graph& g, const OpInfo& op)
      : ShapeOpLayer(g, op, "softmax_axis_ref"), dim_(view4_dim(rank_, op.attrs.axis)) {}
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    const int64_t length = in_.d[dim_], inner = unit(in_, dim_);
    ctx.pool->parallel_for(int(blocks_per_image(in_, dim_) * ctx.batch), [&](int o0, int o1, int worker) {
      softmax_strided(io.input, length, inner, io.output, o0, o1, ctx.worker_scratch(worker));
      clamp(act_, io.output, o0 * length * inner, o1 * length * inner);
    });
  }
  size_t scratch_floats() const override { return softmax_strided_work(unit(in_, dim_)); }

 private:
  int dim_;
};

// x op c: c as a period of x's storage when it is one value or one per channel, else read in
// place through its strides (eltwise_const_ref.h: a layout of one image would multiply a
// small constant's bytes by everything it broadcasts over).
class EltwiseConstLayer final : public ShapeOpLayer {
 public:
  EltwiseConstLayer(const Graph& g, const OpInfo& op)
      : ShapeOpLayer(g, op, "eltwise_const_ref"), kind_(op.attrs.kind), swap_(op.attrs.swap) {
    const TensorInfo& c = g.tensors[op.inputs[1]];
    const std::vector<int64_t>& xs = shape_of(g, op.inputs[0]);
    // The constant's stride for each of x's dimensions (0 where it broadcasts), right-aligned.
    int64_t stride[4] = {0, 0, 0, 0}, step = 1;
    bool channels_only = true;
    for (size_t k = c.shape.size(); k-- > 0;) {
      const size_t xk = xs.size() - c.shape.size() + k;
      if (c.shape[k] != 1) {
        stride[xk] = step;
        channels_only = channels_only && xk == 1;
      }
      step *= c.shape[k];
    }
    values_.assign(c.data, c.data + c.elements);
    period_ = c.elements == 1 ? 1 : channels_only ? size_t(c.elements) : 0;
    // The view's strides: rank 3 [N, C, L] is [N, C, 1, L].
    strides_ = {size_t(in_.d[2]), size_t(in_.d[3]), size_t(in_.d[1]), size_t(xs.size() == 4 ? stride[2] : 0),
                size_t(xs.size() == 3 ? stride[2] : xs.size() == 4 ? stride[3] : 0), size_t(stride[1])};
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    for_ranges(ctx, in_.per_image() * ctx.batch, 4096, [&](int64_t i0, int64_t i1) {
      if (period_ > 0)
        eltwise_const(io.input, values_.data(), period_, kind_, swap_, io.output, size_t(i0), size_t(i1));
      else
        eltwise_const_strided(io.input, values_.data(), strides_, kind_, swap_, io.output, size_t(i0), size_t(i1));
      clamp(act_, io.output, i0, i1);
    });
  }
  std::optional<InputPort> overwritable_input() const override { return InputPort::kInput; }

 private:
  EltwiseKind kind_;
  bool swap_;
  std::vector<float> values_;
  size_t period_ = 0;  // 0: strided
  ConstStrides strides_{};
};

class ReduceMeanLayer final : public ShapeOpLayer {
 public:
  ReduceMeanLayer(const Graph& g, const OpInfo& op) : ShapeOpLayer(g, op, "reduce_mean_ref") {
    for (size_t k = 1; k < rank_; ++k)
      if (op.attrs.axes & (1 << k)) reduce_[view4_dim(rank_, int(k))] = true;
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    ctx.pool->parallel_for(ctx.batch, [&](int n0, int n1, int worker) {
      reduce_mean_images(io.input, in_.d, reduce_, io.output, n0, n1,
                         reinterpret_cast<double*>(ctx.worker_scratch(worker)));
      clamp(act_, io.output, n0 * out_.per_image(), n1 * out_.per_image());
    });
  }
  size_t scratch_floats() const override { return size_t(out_.per_image()) * 2; }  // its doubles

 private:
  bool reduce_[4] = {false, false, false, false};
};

}  // namespace

std::unique_ptr<Layer> make_shape_op_layer(const Graph& g, const OpInfo& op) {
  switch (op.type) {
    case OpType::kReshape: return std::make_unique<ReshapeLayer>(g, op);
    case OpType::kTranspose: return std::make_unique<TransposeLayer>(g, op);
    case OpType::kEltwiseConst: return std::make_unique<EltwiseConstLayer>(g, op);
    case OpType::kReduceMean: return std::make_unique<ReduceMeanLayer>(g, op);
    case OpType::kConcat:
    case OpType::kSlice:
      if (op.attrs.axis == 1) return nullptr;
      return std::make_unique<AxisCopyLayer>(g, op);
    case OpType::kSoftmax:
      if (op.attrs.axis == 1) return nullptr;
      return std::make_unique<AxisSoftmaxLayer>(g, op);
    default: return nullptr;
  }
}

}  // namespace attocore
