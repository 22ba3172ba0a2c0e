// Dense-convolution tester: the im2col + GEMM and indirect GEMM paths (every ISA's table
// kernels and listed indirect kernels, with and without a residual, also one in the output
// buffer) and the NCHW-reading stem
// (every listed variant) against
// conv2d_ref, on the zoo's stems, 3x3 (up to 512 channels) and strided 1x1 convolutions, odd
// channel counts and odd image sizes.
#include <algorithm>
#include <deque>
#include <vector>

#include "graph/activation_epilogue.h"
#include "steps/conv2d_gemm.h"
#include "kernels/conv2d/conv2d_ref.h"
#include "kernels/dispatch/kernel_table.h"
#include "kernels/eltwise/activation.h"
#include "kernels/layout/layout.h"
#include "kernels/stem/stem.h"
#include "test_harness.h"
#include "zoo_shapes.h"

using namespace attocore;

static int cases = 0;

static void check(int batch, int h, int w, int cin, int cout, int kernel, int stride, int pad, unsigned seed) {
  Conv2dShape s;
  s.batch = batch, s.in_h = h, s.in_w = w, s.in_c = cin, s.out_c = cout;
  s.window.kernel_h = s.window.kernel_w = kernel;
  s.window.stride_h = s.window.stride_w = stride;
  s.window.pad_top = s.window.pad_left = s.window.pad_bottom = s.window.pad_right = pad;
  s.out_h = (h + 2 * pad - kernel) / stride + 1;
  s.out_w = (w + 2 * pad - kernel) / stride + 1;
  if (s.out_h < 1 || s.out_w < 1) return;
  std::vector<float> x_nchw(size_t(batch) * cin * h * w), wt(size_t(cout) * cin * kernel * kernel), bias(cout);
  test::fill(x_nchw, seed), test::fill(wt, seed + 1), test::fill(bias, seed + 2);
  std::vector<float> x(x_nchw.size());
  nchw_to_nhwc(batch, cin, h, w, x_nchw.data(), x.data());
  const Activation act = Activation(seed % 3);
  const size_t out_n = size_t(batch) * s.out_h * s.out_w * cout;
  std::vector<float> packed(conv2d_ref_packed_size(s)), want(out_n), pre(out_n), residual(out_n), want_res(out_n);
  conv2d_ref_pack(s, wt.data(), packed.data());
  conv2d_ref(s, x.data(), packed.data(), bias.data(), act, want.data(), 0, batch * s.out_h);
  // With a residual added before the activation (a ResNet block's second convolution).
  conv2d_ref(s, x.data(), packed.data(), bias.data(), Activation::kNone, pre.data(), 0, batch * s.out_h);
  test::fill(residual, seed + 3);
  for (size_t i = 0; i < out_n; ++i) want_res[i] = activate(act, pre[i] + residual[i]);
  const double tol = 2e-5 * (1 + cin * kernel * kernel / 64.0);

  for (Isa isa : available_isas()) {
    const KernelTable& table = kernel_table(isa);
    const KernelList& list = kernel_list(isa);
    // The table's two GEMM kernels and every listed kernel with an indirect variant, as
    // listed (a narrow convolution then takes its narrow indirect kernel) and without its
    // indirect variants: the gather path.
    std::vector<const GemmKernel*> kernels{table.gemm_nr8};
    if (table.gemm_wide != table.gemm_nr8) kernels.push_back(table.gemm_wide);
    std::deque<GemmKernel> im2col_only;
    for (const GemmKernel* k : list.gemm) {
      if (k->indirect == nullptr) continue;
      if (std::find(kernels.begin(), kernels.end(), k) == kernels.end()) kernels.push_back(k);
      GemmKernel gather = *k;
      gather.indirect = nullptr, gather.narrow_indirect = nullptr;
      kernels.push_back(&im2col_only.emplace_back(gather));
    }
    for (const GemmKernel* gk : kernels) {
      Conv2dGemm conv(s, *gk, wt.data(), bias.data());
      std::vector<float> scratch(conv.scratch_floats()), got(out_n);
      const int pixels = batch * s.out_h * s.out_w;
      conv.run(x.data(), got.data(), scratch.data(), act, 0, pixels / 3);
      conv.run(x.data(), got.data(), scratch.data(), act, pixels / 3, pixels);
      double worst;
      ++cases;
      CHECK_MSG(test::close(got.data(), want.data(), out_n, tol, &worst), "%s conv %dx%d c%d->%d k%d s%d: error %g",
                gk->name, h, w, cin, cout, kernel, stride, worst);
      conv.run(x.data(), got.data(), scratch.data(), act, 0, pixels / 3, residual.data());
      conv.run(x.data(), got.data(), scratch.data(), act, pixels / 3, pixels, residual.data());
      ++cases;
      CHECK_MSG(test::close(got.data(), want_res.data(), out_n, tol, &worst),
                "%s conv+residual %dx%d c%d->%d k%d s%d: error %g", gk->name, h, w, cin, cout, kernel, stride, worst);
      // The residual in the output buffer (an add computed in place of its shortcut, as
      // ResNet's blocks are planned): each element's residual must be read before anything
      // is written over it, also by a kernel that keeps partial sums in the output.
      got = residual;
      conv.run(x.data(), got.data(), scratch.data(), act, 0, pixels / 3, got.data());
      conv.run(x.data(), got.data(), scratch.data(), act, pixels / 3, pixels, got.data());
      ++cases;
      CHECK_MSG(test::close(got.data(), want_res.data(), out_n, tol, &worst),
                "%s conv+residual in place %dx%d c%d->%d k%d s%d: error %g", gk->name, h, w, cin, cout, kernel, stride,
                worst);
      if (!conv.indirect) continue;
      // Blocks of k (the constructor's, and ones that cut taps in the middle and at odd
      // counts) give the same bits as one block of the whole k: with and without a residual,
      // with the residual in the output buffer, and into a wider output (out_stride).
      Conv2dGemm whole = conv;
      whole.k_block = whole.k;
      const size_t ld = size_t(cout) + 5;
      std::vector<float> ref(out_n), ref_res(out_n), wide(size_t(pixels) * ld);
      whole.run(x.data(), ref.data(), scratch.data(), act, 0, pixels);
      whole.run(x.data(), ref_res.data(), scratch.data(), act, 0, pixels, residual.data());
      for (int kb : {conv.k_block, 4, 7 * cin / 3 + 1, cin + 2}) {
        if (kb < 1 || kb > conv.k) continue;
        Conv2dGemm blocked = conv;
        blocked.k_block = kb;
        std::vector<float> blocked_scratch(blocked.scratch_floats());
        float* sc = blocked_scratch.data();
        cases += 4;
        blocked.run(x.data(), got.data(), sc, act, 0, pixels / 3);
        blocked.run(x.data(), got.data(), sc, act, pixels / 3, pixels);
        CHECK_MSG(got == ref, "%s conv %dx%d c%d->%d k%d s%d: k_block %d not bitwise", gk->name, h, w, cin, cout,
                  kernel, stride, kb);
        blocked.run(x.data(), got.data(), sc, act, 0, pixels, residual.data());
        CHECK_MSG(got == ref_res, "%s conv+residual %dx%d c%d->%d k%d s%d: k_block %d not bitwise", gk->name, h, w,
                  cin, cout, kernel, stride, kb);
        got = residual;
        blocked.run(x.data(), got.data(), sc, act, 0, pixels / 3, got.data());
        blocked.run(x.data(), got.data(), sc, act, pixels / 3, pixels, got.data());
        CHECK_MSG(got == ref_res, "%s conv+residual in place %dx%d c%d->%d k%d s%d: k_block %d not bitwise", gk->name,
                  h, w, cin, cout, kernel, stride, kb);
        blocked.out_stride = ld;
        std::fill(wide.begin(), wide.end(), -7.f);
        blocked.run(x.data(), wide.data(), sc, act, 0, pixels, residual.data());
        bool same = true;
        for (int p = 0; p < pixels; ++p)
          for (size_t j = 0; j < ld; ++j)
            same &= wide[p * ld + j] == (j < size_t(cout) ? ref_res[size_t(p) * cout + j] : -7.f);
        CHECK_MSG(same, "%s conv+residual %dx%d c%d->%d k%d s%d: k_block %d out_stride %zu", gk->name, h, w, cin, cout,
                  kernel, stride, kb, ld);
      }
    }
    for (const StemKernel* stem : list.stem) {
      if (stride > 2 || kernel == 1) break;
      StemShape ss = make_stem_shape(cin, h, w, cout, s.out_h, s.out_w, s.window);
      PackedStem ps = pack_stem(ss, wt.data(), bias.data());
      std::vector<float> padded(stem_padded_floats(ss), 1e30f), got(out_n);  // stale scratch: margins must be re-zeroed
      std::vector<float> row_scratch(stem_pad_scratch_floats(ss));
      for (int n = 0; n < batch; ++n) {
        const int pad_rows = cin * ss.padded_h;  // in two ranges, as threads split the copy
        const float* image = x_nchw.data() + size_t(n) * cin * h * w;
        stem_pad_rows(ss, image, padded.data(), 0, pad_rows / 2, row_scratch.data());
        stem_pad_rows(ss, image, padded.data(), pad_rows / 2, pad_rows, row_scratch.data());
        float* out = got.data() + size_t(n) * s.out_h * s.out_w * cout;
        stem->fn(StemArgs{&ss, &ps, padded.data(), out, epilogue_of(act), 0, s.out_h / 2});
        stem->fn(StemArgs{&ss, &ps, padded.data(), out, epilogue_of(act), s.out_h / 2, s.out_h});
      }
      double worst;
      ++cases;
      CHECK_MSG(test::close(got.data(), want.data(), out_n, tol, &worst), "%s %dx%d c%d->%d k%d s%d: error %g",
                stem->name, h, w, cin, cout, kernel, stride, worst);
    }
  }
}

int main() {
  unsigned seed = 1;
  // The zoo's stems (7x7 stride 2 on 224x224 unless small mode) and edge shapes.
  const int stem_hw = test::small_mode() ? 17 : 224;
  for (int c0 : test::kZooStemWidths) check(1, stem_hw, stem_hw, 3, c0, 7, 2, 3, seed++);
  check(1, stem_hw, stem_hw, 3, 32, 3, 2, 1, seed++);  // MobileNet-V2's stem (16-channel blocks on AVX2)
  check(1, stem_hw, stem_hw, 3, 64, 7, 2, 3, seed++);  // ResNet's
  for (int cout : {1, 3, 5, 8, 9, 16, 17, 32, 48})
    for (int hw : {1, 4, 7, 13})
      for (int stride : {1, 2}) {
        check(2, hw, hw + 2, 3, cout, 7, stride, 3, seed++);
        check(1, hw + 1, hw, 5, cout, 3, stride, 1, seed++);   // dense 3x3
        check(1, hw, hw, 7, cout, 1, stride, 0, seed++);       // (strided) 1x1
      }
  // Rows of 20-90 output pixels: every count of 16-pixel vectors left after the AVX-512
  // stem's blocks (3 vectors of 8 channels, 6 of 4), partial last vectors, 3-13 channels.
  for (int out_w : {20, 40, 60, 70, 90})
    for (int cout : {3, 6, 8, 13}) {
      check(1, 3, out_w, 3, cout, 7, 1, 3, seed++);
      check(1, 3, 2 * out_w, 3, cout, 7, 2, 3, seed++);
    }
  // Large reductions (ResNet's 3x3 at 128-512 channels: k = 1152-4608: a weight panel larger
  // than L1, which the indirect path cuts into blocks of k), a partial last panel, and 49 or
  // 196 rows: a partial last group of rows.
  for (int cin : {128, 256, 512})
    for (int cout : {32, 40, 64}) {
      check(1, 7, 7, cin, cout, 3, 1, 1, seed++);
      if (!test::small_mode()) check(1, 14, 14, cin, cout, 3, 2, 1, seed++);
    }
  for (const auto& z : test::kZooModules)  // projections: strided 1x1 at the zoo's widths
    if (z.stride == 2) check(1, test::spatial(z.hw), test::spatial(z.hw), z.cin, z.cout, 1, 2, 0, seed++);
  std::printf("%d cases\n", cases);
  TEST_MAIN_END();
}
