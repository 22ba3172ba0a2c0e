// concat_in_place: a concat along the channels and the dense convolutions that alone produce
// some of its inputs. Each such convolution writes its output straight into its channel range
// of the concat's output (the GEMM's row stride is the concat's channel count), so neither its
// own buffer nor the copy exists; the concat's other inputs are copied in as before. SqueezeNet's
// Fire modules (a 1x1 and a 3x3 expansion side by side), YOLO's C2f and SPPF, Inception-style
// blocks. Seeds at the concat; the step runs where the concat stood.
#include <memory>
#include <string>
#include <vector>

#include "exec/for_pixels.h"
#include "exec/op_shapes.h"
#include "graph/activation_epilogue.h"
#include "kernels/channels/channels_ref.h"
#include "plan/patterns/pattern_list.h"
#include "steps/conv2d_gemm.h"

namespace attocore {
namespace {

constexpr char kConcat[] = "concat";
// A role per concat input produced in place (roles are names with static storage).
constexpr const char* kParts[kMaxStepInputs] = {"part0", "part1", "part2",  "part3",  "part4",  "part5",
                                                "part6", "part7", "part8",  "part9",  "part10", "part11",
                                                "part12", "part13", "part14", "part15"};

// The convolution writing concat input `i` in place, or -1.
int part_conv(const Graph& g, const Match& m, size_t i) {
  const OpInfo& concat = g.ops[m.op(kConcat)];
  const int conv = m.op(kParts[i]);
  return conv >= 0 && g.ops[conv].outputs[0] == concat.inputs[i] ? conv : -1;
}

class ConcatInPlaceLayer : public Layer {
 public:
  ConcatInPlaceLayer(const Graph& g, const Match& m, const KernelTable& table) {
    const OpInfo& concat = g.ops[m.op(kConcat)];
    const auto& y = shape_of(g, concat.outputs[0]);
    out_c_ = int(y[1]);
    pixels_ = y.size() == 4 ? y[2] * y[3] : 1;
    int offset = 0;
    for (size_t i = 0; i < concat.inputs.size(); ++i) {
      Part part;
      part.channels = int(shape_of(g, concat.inputs[i])[1]);
      part.offset = offset;
      offset += part.channels;
      const int c = part_conv(g, m, i);
      if (c >= 0) {
        const OpInfo& op = g.ops[c];
        const Conv2dShape s = conv_shape(g, op);
        part.conv = std::make_unique<Conv2dGemm>(s, table.gemm_for(s.out_c), weights_of(g, op), bias_of(g, op));
        part.conv->out_stride = size_t(out_c_);
        part.act = op.activation;
        scratch_ = std::max(scratch_, part.conv->scratch_floats());
        names_ += std::string(names_.empty() ? "" : "+") + (part.conv->direct ? "conv1x1" : "igemm");
      } else {
        names_ += std::string(names_.empty() ? "" : "+") + "copy";
      }
      parts_.push_back(std::move(part));
    }
    kernel_ = &table.gemm_for(out_c_);
  }
  void run(const RunContext& ctx, const StepBuffers& io) const override {
    const int64_t pixels = pixels_ * ctx.batch;
    for (size_t i = 0; i < parts_.size(); ++i) {
      const Part& part = parts_[i];
      const float* x = io.read(int(i));
      if (part.conv) {
        for_pixels(ctx, int(pixels), part.conv->kernel->mr, [&](int p0, int p1, float* scratch) {
          part.conv->run(x, io.output + part.offset, scratch, part.act, p0, p1);
        });
      } else {
        for_ranges(ctx, pixels, 256, [&](int64_t p0, int64_t p1) {
          copy_channels_into(x, part.channels, io.output, out_c_, part.offset, size_t(p0), size_t(p1));
        });
      }
    }
  }
  std::string kernel_name() const override { return "concat_in_place(" + names_ + "):" + kernel_->name; }
  size_t scratch_floats() const override { return scratch_; }

 private:
  struct Part {
    int channels = 0, offset = 0;
    std::unique_ptr<Conv2dGemm> conv;  // null: copied in
    Activation act = Activation::kNone;
  };
  std::vector<Part> parts_;
  int out_c_ = 0;
  int64_t pixels_ = 0;
  size_t scratch_ = 0;
  std::string names_;
  const GemmKernel* kernel_ = nullptr;
};

class ConcatInPlace final : public Pattern {
 public:
  const char* name() const override { return "concat_in_place"; }

  std::optional<Match> seed(FusionContext& ctx, int op) const override {
    const OpInfo& concat = ctx.op(op);
    if (concat.type != OpType::kConcat) return ctx.decline(op, "not a concat");
    if (concat.activation != Activation::kNone) return ctx.decline(op, "has an activation of its own");
    const Graph& g = ctx.graph();
    if (g.tensors[concat.outputs[0]].shape.size() != 4) return ctx.decline(op, "not a concat of feature maps");
    if (concat.attrs.axis != 1) return ctx.decline(op, "not along the channels");
    Match m(this);
    m.add(kConcat, op);
    m.position = op;
    bool any = false;
    for (size_t i = 0; i < concat.inputs.size(); ++i) {
      const int t = concat.inputs[i], p = ctx.producer(t);
      // Read once (by this concat, at this input), so nothing else needs it as a tensor.
      if (p < 0 || ctx.claimed(p) || !ctx.internal(t)) continue;
      const OpInfo& conv = ctx.op(p);
      if (conv.type != OpType::kConv2d || conv.window.groups != 1) continue;
      m.add(kParts[i], p);
      any = true;
    }
    if (!any) return ctx.decline(op, "no input is a dense convolution's output read by the concat alone");
    return m;
  }

  StepTensors tensors(const Graph& g, const Match& m) const override {
    const OpInfo& concat = g.ops[m.op(kConcat)];
    std::vector<int> reads;
    for (size_t i = 0; i < concat.inputs.size(); ++i) {
      const int c = part_conv(g, m, i);
      reads.push_back(c >= 0 ? g.ops[c].inputs[0] : concat.inputs[i]);
    }
    StepTensors io;
    io.input = reads[0];
    io.shortcut = reads[1];
    io.more.assign(reads.begin() + 2, reads.end());
    io.output = concat.outputs[0];
    return io;
  }

  std::string step_name(const Graph& g, const Match& m) const override {
    std::string name = g.ops[m.op(kConcat)].name;
    for (size_t i = 0; i < g.ops[m.op(kConcat)].inputs.size(); ++i)
      if (const int c = part_conv(g, m, i); c >= 0) name += "+" + g.ops[c].name;
    return name;
  }

  std::unique_ptr<Layer> build(const Graph& g, const Match& m, const KernelTable& table) const override {
    return std::make_unique<ConcatInPlaceLayer>(g, m, table);
  }
};

}  // namespace

const Pattern& concat_in_place_pattern() {
  static const ConcatInPlace pattern;
  return pattern;
}

}  // namespace attocore
