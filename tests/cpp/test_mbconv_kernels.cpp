// Inverted residual block in one step (mbconv.h) tester: for every ISA, the banded block
// (expansion rows computed per band and carried over, depthwise, projection with or without
// the residual) against the plain oracle (mbconv_reference), on MobileNet-V2's blocks and
// edge shapes: strides 1 and 2 on odd sizes, multipliers 1-3, 1/3/5/7/17 channels, 1x1 and
// non-square images, batches whose ranges cross images. Pixel ranges are split where threads
// would split them, mid-row and mid-image included, and each range reads only its own rows.
#include <array>
#include <utility>
#include <vector>

#include "kernels/dispatch/kernel_table.h"
#include "steps/mbconv.h"
#include "test_harness.h"

using namespace attocore;

static int cases = 0;

static void check(int batch, int in_h, int in_w, int stride, int in_c, int mid_c, int k, int out_c, bool residual,
                  unsigned seed) {
  DwconvShape d;
  d.in_h = in_h, d.in_w = in_w, d.in_c = mid_c, d.multiplier = k, d.out_c = mid_c * k;
  d.window.kernel_h = d.window.kernel_w = 3;
  d.window.stride_h = d.window.stride_w = stride;
  d.window.pad_top = d.window.pad_left = d.window.pad_bottom = d.window.pad_right = 1;
  d.window.groups = mid_c;
  d.out_h = (in_h - 1) / stride + 1, d.out_w = (in_w - 1) / stride + 1;
  const int pixels = batch * d.out_h * d.out_w, dw_c = d.out_c;
  residual = residual && stride == 1;
  if (residual) out_c = in_c;  // the block's own input is its shortcut

  std::vector<float> x(size_t(batch) * in_h * in_w * in_c), we(size_t(mid_c) * in_c), be(mid_c), wd(size_t(dw_c) * 9),
      bd(dw_c), wp(size_t(out_c) * dw_c), bp(out_c);
  for (auto* v : {&x, &we, &be, &wd, &bd, &wp, &bp}) test::fill(*v, seed++);
  const Activation act_e = Activation(seed % 3), act_d = Activation((seed + 1) % 3), act_p = Activation((seed + 2) % 3);
  const float* res = residual ? x.data() : nullptr;

  std::vector<float> want(size_t(pixels) * out_c);
  mbconv_reference(batch, d, in_c, out_c, we.data(), be.data(), act_e, wd.data(), bd.data(), act_d, wp.data(),
                   bp.data(), act_p, x.data(), res, want.data());

  for (Isa isa : available_isas()) {
    const KernelTable& table = kernel_table(isa);
    const MbConv block(in_c, table.gemm_for(mid_c), we.data(), be.data(), act_e, table.dwconv, d, wd.data(),
                       bd.data(), act_d, out_c, table.gemm_for(out_c), wp.data(), bp.data(), act_p);
    // The input with slack past its end, as the arena gives it (vector loads of a few channels).
    std::vector<float> input(x.size() + kDwconvInputSlack, 0.f);
    std::copy(x.begin(), x.end(), input.begin());
    std::vector<float> scratch(block.scratch_floats()), got(want.size() + 8, 777.f);
    // Three ranges as three threads would take them: cuts mid-row and mid-image.
    const int cut1 = pixels / 3, cut2 = pixels - pixels / 4;
    for (auto [p0, p1] : {std::pair{0, cut1}, std::pair{cut1, cut2}, std::pair{cut2, pixels}})
      if (p1 > p0) block.run(input.data(), residual ? input.data() : nullptr, got.data(), scratch.data(), p0, p1);
    const double tol = 3e-5 * (1 + (in_c + mid_c + dw_c) / 64.0);
    double worst;
    ++cases;
    CHECK_MSG(test::close(got.data(), want.data(), want.size(), tol, &worst),
              "%s mbconv n=%d %dx%d s%d in_c=%d mid=%d k=%d out_c=%d residual=%d: error %g", isa_name(isa), batch,
              in_h, in_w, stride, in_c, mid_c, k, out_c, int(residual), worst);
    CHECK_MSG(got[want.size()] == 777.f, "%s mbconv wrote past its output", isa_name(isa));
  }
}

int main() {
  unsigned seed = 1;
  // MobileNet-V2's inverted residual blocks: input size, stride, in, expanded, out channels.
  for (auto [hw, s, in_c, mid, out_c] : {std::array{112, 2, 16, 96, 24}, {56, 1, 24, 144, 24}, {56, 2, 24, 144, 32},
                                         {28, 1, 32, 192, 32}, {28, 2, 32, 192, 64}, {14, 1, 64, 384, 64},
                                         {14, 1, 64, 384, 96}, {14, 2, 96, 576, 160}, {7, 1, 160, 960, 160}}) {
    const int side = test::spatial(hw);
    check(1, side, side, s, in_c, mid, 1, out_c, s == 1 && in_c == out_c, seed);
    seed += 8;
  }
  for (int mid : {1, 3, 5, 7, 17})
    for (int k : {1, 2, 3})
      for (int stride : {1, 2}) {
        check(1, 9, 9, stride, 4, mid, k, 6, stride == 1, seed);
        check(3, 7, 5, stride, 3, mid, k, 9 + k, false, seed + 8);    // ranges that cross images, non-square
        check(2, 1, 1, stride, 5, mid, k, 5, true, seed + 16);       // 1x1 images
        check(1, test::spatial(23), test::spatial(17), stride, 6, mid, k, 11, stride == 1, seed + 24);
        seed += 32;
      }
  std::printf("%d cases (%s mode)\n", cases, test::small_mode() ? "small" : "full");
  TEST_MAIN_END();
}
