#include "steps/qmodule_tail.h"

#include <algorithm>
#include <string>

#include "exec/for_pixels.h"
#include "exec/int8_params.h"
#include "exec/op_shapes.h"
#include "kernels/dispatch/qkernel_table.h"

namespace attocore {
namespace {

// A 1x1 convolution as the step runs it: packed for the GEMM kernel, with its epilogue.
struct Pointwise {
  PackedQGemm w;
  QuantEpilogue ep;
  int k = 0, n = 0;

  Pointwise() = default;
  Pointwise(const Graph& g, const OpInfo& op, const QGemmKernel& kernel)
      : ep(int8_epilogue(g, op)), k(int(shape_of(g, op.inputs[0])[1])), n(int(shape_of(g, op.outputs[0])[1])) {
    // A 1x1's OIHW weights are already the GEMM's [n][k].
    const std::vector<float> m = int8_conv_multipliers(g, op, n);
    w = kernel.pack(n, k, g.tensors[op.inputs[1]].int8_data(), int8_bias(g, op), m.data(),
                    g.tensors[op.inputs[0]].zero_point);
  }
};

size_t round_up_64(size_t n) { return (n + 63) / 64 * 64; }

class QModuleTailLayer : public Layer {
 public:
  QModuleTailLayer(const Graph& g, const QModuleTailOps& ops, Isa isa)
      : gemm_(qgemm_kernel(isa)), add_kernel_(qadd_kernel(isa)) {
    const OpInfo& second = g.ops[ops.second];
    first_ = Pointwise(g, g.ops[ops.first], gemm_);
    second_ = Pointwise(g, second, gemm_);
    const auto& y = shape_of(g, second.outputs[0]);
    out_h_ = int(y[2]), out_w_ = int(y[3]);
    if (ops.dw >= 0) {
      const OpInfo& d = g.ops[ops.dw];
      dw_kernel_ = qdwconv_kernel(isa);
      dw_shape_ = dwconv_shape(g, d);
      const std::vector<float> m = int8_conv_multipliers(g, d, dw_shape_.out_c);
      dw_ = dw_kernel_.pack(dw_shape_, g.tensors[d.inputs[1]].int8_data(), int8_bias(g, d), m.data(),
                            g.tensors[d.inputs[0]].zero_point);
      dw_ep_ = int8_epilogue(g, d);
    }
    if (ops.add >= 0) {
      const OpInfo& a = g.ops[ops.add];
      add_ = int8_add_params(g, a);
      has_add_ = true;
      second_is_a_ = a.inputs[0] == second.outputs[0];  // the add's operand order, kept
      if (ops.projection >= 0) {
        const OpInfo& p = g.ops[ops.projection];
        projection_ = Pointwise(g, p, gemm_);
        const auto& x = shape_of(g, p.inputs[0]);
        x_h_ = int(x[2]), x_w_ = int(x[3]);
        stride_ = p.window.stride_h;
        has_projection_ = true;
      }
    }
    if (ops.next >= 0) {
      next_ = Pointwise(g, g.ops[ops.next], gemm_);
      has_next_ = true;
    }
    // A tile's intermediates (mid, t2, the projection: about c3 + 2 cout bytes a pixel) are
    // kept near 48 KiB, an L1 on recent cores and a small part of any L2.
    const int per_pixel = first_.n + second_.n * (has_add_ ? 1 : 0) + (has_projection_ ? second_.n : 0);
    tile_ = std::clamp(49152 / std::max(per_pixel, 1) / 16 * 16, 16, 1024);
    if (dw_kernel_.fn) band_rows_ = std::clamp((tile_ + out_w_ - 1) / out_w_, 1, std::max(out_h_, 1));
    name_ = (dw_kernel_.fn ? std::string(dw_kernel_.name) + "+" : std::string()) + "pwpw" +
            (has_projection_ ? "+proj" : has_add_ ? "+res" : "") + (has_next_ ? "+next:" : ":") + gemm_.name;
  }

  void run(const RunContext& ctx, const StepBuffers& io) const override {
    const int8_t* x1 = reinterpret_cast<const int8_t*>(io.input);
    const int8_t* x = reinterpret_cast<const int8_t*>(io.shortcut);
    int8_t* out = reinterpret_cast<int8_t*>(io.output);
    int8_t* next_out = has_next_ ? reinterpret_cast<int8_t*>(io.next) : nullptr;
    const int pixels = ctx.batch * out_h_ * out_w_;
    for_pixels(ctx, pixels, 16, [&](int p0, int p1, float* scratch) {
      uint8_t* s = reinterpret_cast<uint8_t*>(scratch);
      if (!dw_kernel_.fn) {
        tail(x1, 0, x, out, next_out, s, p0, p1);
        return;
      }
      run_bands(ctx.batch, x1, x, out, next_out, s, p0, p1);
    });
  }

  size_t scratch_floats() const override { return (tail_bytes() + band_bytes() + dw_scratch_bytes() + 3) / 4; }
  std::string kernel_name() const override { return name_; }
  // The identity shortcut is read tile by tile just before the same tile of the output is
  // written (qadd: y may be either operand).
  std::optional<InputPort> overwritable_input() const override {
    return has_add_ && !has_projection_ ? std::optional(InputPort::kShortcut) : std::nullopt;
  }

 private:
  // Scratch per thread: the tile's mid, t2 and projection, then the depthwise band and the
  // depthwise kernel's own scratch, each on a cache line.
  size_t mid_bytes() const { return round_up_64(size_t(tile_) * first_.n); }
  size_t t2_bytes() const { return has_add_ ? round_up_64(size_t(tile_) * second_.n) : 0; }
  size_t tail_bytes() const { return mid_bytes() + 2 * t2_bytes() + 64; }
  size_t band_bytes() const {
    return dw_kernel_.fn ? round_up_64(size_t(band_rows_) * out_w_ * dw_shape_.out_c) : 0;
  }
  size_t dw_scratch_bytes() const { return dw_kernel_.fn ? round_up_64(qdwconv_scratch_bytes(dw_shape_)) : 0; }

  // The depthwise output a band of rows at a time, each band handed to the tail. A thread
  // whose pixels start mid-row computes that row whole (its only overlap with the thread
  // before it).
  void run_bands(int batch, const int8_t* x1, const int8_t* x, int8_t* out, int8_t* next_out, uint8_t* s, int p0,
                 int p1) const {
    DwconvShape shape = dw_shape_;
    shape.batch = batch;
    int8_t* band = reinterpret_cast<int8_t*>(s + tail_bytes());
    void* dw_scratch = s + tail_bytes() + band_bytes();
    const int w = out_w_;
    for (int b0 = p0; b0 < p1;) {
      const int row0 = b0 / w;
      const int b1 = std::min(p1, (row0 + band_rows_) * w);
      QDwconvArgs args{&shape, &dw_, x1, band, dw_ep_, row0, (b1 - 1) / w + 1, dw_scratch};
      args.output_row0 = row0;
      dw_kernel_.fn(args);
      tail(band, row0 * w, x, out, next_out, s, b0, b1);
      b0 = b1;
    }
  }

  // Pixels [p0, p1) of the tail; x2 is the first product's input from pixel x2_first on (the
  // whole tensor, or a depthwise band).
  void tail(const int8_t* x2, int x2_first, const int8_t* x, int8_t* out, int8_t* next_out, uint8_t* s, int p0,
            int p1) const {
    int8_t* mid = reinterpret_cast<int8_t*>(s);
    int8_t* t2 = reinterpret_cast<int8_t*>(s + mid_bytes());
    int8_t* proj = reinterpret_cast<int8_t*>(s + mid_bytes() + t2_bytes());
    const int c2 = first_.k, c3 = first_.n, cout = second_.n;
    for (int t0 = p0; t0 < p1; t0 += tile_) {
      const int rows = std::min(tile_, p1 - t0);
      int8_t* y = out + size_t(t0) * cout;
      gemm_.fn(QGemmArgs{&first_.w, x2 + size_t(t0 - x2_first) * c2, size_t(c2), mid, size_t(c3), rows, first_.ep});
      gemm_.fn(QGemmArgs{&second_.w, mid, size_t(c3), has_add_ ? t2 : y, size_t(cout), rows, second_.ep});
      if (has_add_) {
        const int8_t* shortcut = x + size_t(t0) * cout;
        if (has_projection_) {
          project(x, proj, t0, rows);
          shortcut = proj;
        }
        add_kernel_.fn(second_is_a_ ? t2 : shortcut, second_is_a_ ? shortcut : t2, y, size_t(rows) * cout, add_);
      }
      if (has_next_)
        gemm_.fn(QGemmArgs{&next_.w, y, size_t(cout), next_out + size_t(t0) * next_.n, size_t(next_.n), rows, next_.ep});
    }
  }

  // The projection of pixels [t0, t0 + rows) into `proj`, one output row's run at a time:
  // the GEMM's row stride steps over the pixels the stride skips.
  void project(const int8_t* x, int8_t* proj, int t0, int rows) const {
    const int per_image = out_h_ * out_w_, x_c = projection_.k;
    for (int p = t0; p < t0 + rows;) {
      const int n = p / per_image, oy = p % per_image / out_w_, ox = p % out_w_;
      const int run = std::min(out_w_ - ox, t0 + rows - p);
      const int8_t* src = x + ((size_t(n) * x_h_ + size_t(oy) * stride_) * x_w_ + size_t(ox) * stride_) * x_c;
      gemm_.fn(QGemmArgs{&projection_.w, src, size_t(stride_) * x_c, proj + size_t(p - t0) * projection_.n,
                         size_t(projection_.n), run, projection_.ep});
      p += run;
    }
  }

  QGemmKernel gemm_;
  QAddKernel add_kernel_;
  Pointwise first_, second_, projection_, next_;
  QDwconvKernel dw_kernel_;
  DwconvShape dw_shape_;
  PackedQDwconv dw_;
  QuantEpilogue dw_ep_;
  QAddParams add_;
  bool has_add_ = false, has_projection_ = false, has_next_ = false, second_is_a_ = true;
  int out_h_ = 0, out_w_ = 0, x_h_ = 0, x_w_ = 0, stride_ = 1;
  int tile_ = 16, band_rows_ = 1;
  std::string name_;
};

}  // namespace

std::unique_ptr<Layer> make_qmodule_tail_layer(const Graph& g, const QModuleTailOps& ops, Isa isa) {
  return std::make_unique<QModuleTailLayer>(g, ops, isa);
}

}  // namespace attocore
