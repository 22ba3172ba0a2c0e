// Depthwise bands feeding 1x1 products in one pass (dwconv_bands.h) tester: for every ISA,
// the AttoNet step (depthwise + module tail, dw_pwpw.h) and the MobileNet step (depthwise +
// one 1x1, residual or not: dw_conv1x1.h) against the portable depthwise reference followed
// by plain loops, on every module of the four nets, MobileNet-V2's pairs and edge shapes
// (multipliers 1-4, odd channel counts and widths, stride 2 on odd sizes, 1x1 images,
// batches whose bands cross images). Pixel ranges are split where threads would split
// them, mid-row included.
#include <array>
#include <utility>
#include <vector>

#include "graph/activation_epilogue.h"
#include "kernels/dispatch/kernel_table.h"
#include "kernels/eltwise/activation.h"
#include "steps/dw_conv1x1.h"
#include "steps/dw_pwpw.h"
#include "test_harness.h"
#include "zoo_shapes.h"

using namespace attocore;

static int cases = 0;

// A 3x3 depthwise layer, padding 1, on a square input (batch 1).
static DwconvShape dw_shape(int in_hw, int stride, int c1, int k) {
  DwconvShape d;
  d.in_h = d.in_w = in_hw, d.in_c = c1, d.multiplier = k, d.out_c = c1 * k;
  d.window.kernel_h = d.window.kernel_w = 3;
  d.window.stride_h = d.window.stride_w = stride;
  d.window.pad_top = d.window.pad_left = d.window.pad_bottom = d.window.pad_right = 1;
  d.window.groups = c1;
  d.out_h = d.out_w = (in_hw - 1) / stride + 1;
  return d;
}

// The module after its compression: x1 (c1 channels, in_hw square) -> depthwise (k, stride)
// -> c3 -> cout, with a projection (from a cin-channel x at in_hw) or identity shortcut.
static void check(int batch, int in_hw, int stride, int cin, int c1, int k, int c3, int cout, Shortcut shortcut,
                  unsigned seed) {
  DwconvShape d = dw_shape(in_hw, stride, c1, k);
  PwpwShape s;
  s.c2 = d.out_c, s.c3 = c3, s.cout = cout, s.shortcut = shortcut;
  s.out_h = d.out_h, s.out_w = d.out_w;
  const bool proj = shortcut == Shortcut::kProjection;
  s.x_c = proj ? cin : cout;
  s.x_h = s.x_w = proj ? in_hw : s.out_h;
  s.stride = proj ? stride : 1;
  const int pixels = batch * s.out_h * s.out_w;

  std::vector<float> x1(size_t(batch) * in_hw * in_hw * c1 + kDwconvInputSlack), wd(size_t(d.out_c) * 9),
      bd(d.out_c), x(size_t(batch) * s.x_h * s.x_w * s.x_c), w1(size_t(c3) * s.c2), b1(c3), w2(size_t(cout) * c3),
      b2(cout), wp(size_t(cout) * cin), bp(cout);
  for (auto* v : {&x1, &wd, &bd, &x, &w1, &b1, &w2, &b2, &wp, &bp}) test::fill(*v, seed++);
  const Activation act_dw = Activation(seed % 3), act1 = Activation((seed + 1) % 3), act_out = Activation::kRelu;

  // The oracle: reference depthwise over the whole tensor, then the plain tail.
  const KernelTable& ref = kernel_table(Isa::kReference);
  d.batch = batch;
  const PackedDwconv ref_weights = pack_dwconv(d, ref.dwconv.cw, wd.data(), bd.data());
  std::vector<float> mid(size_t(pixels) * s.c2), want(size_t(pixels) * cout);
  ref.dwconv.fn(DwconvArgs{&d, &ref_weights, x1.data(), mid.data(), epilogue_of(act_dw), 0, batch * d.out_h, nullptr});
  pwpw_reference(s, w1.data(), b1.data(), w2.data(), b2.data(), proj ? wp.data() : nullptr, proj ? bp.data() : nullptr,
                 act1, act_out, mid.data(), x.data(), want.data(), pixels);
  d.batch = 1;

  for (Isa isa : available_isas()) {
    const KernelTable& table = kernel_table(isa);
    Pwpw tail(s, table.gemm_for(c3), table.gemm_for(cout), w1.data(), b1.data(), w2.data(), b2.data(),
              proj ? wp.data() : nullptr, proj ? bp.data() : nullptr, act1, act_out);
    const DwPwpw f(table.dwconv, d, wd.data(), bd.data(), act_dw, std::move(tail));
    std::vector<float> scratch(f.scratch_floats()), got(want.size() + 8, 777.f);
    // Three ranges as three threads would take them: cuts mid-row and mid-image.
    const int cut1 = pixels / 3, cut2 = pixels - pixels / 4;
    for (auto [p0, p1] : {std::pair{0, cut1}, std::pair{cut1, cut2}, std::pair{cut2, pixels}})
      if (p1 > p0) f.run(batch, x1.data(), shortcut == Shortcut::kNone ? nullptr : x.data(), got.data(), scratch.data(), p0, p1, nullptr);
    const double tol = 3e-5 * (1 + (s.c2 + c3 + cin) / 64.0);
    double worst;
    ++cases;
    CHECK_MSG(test::close(got.data(), want.data(), want.size(), tol, &worst),
              "%s dw+pwpw n=%d %dx%d s%d c1=%d k=%d c3=%d cout=%d shortcut=%d: error %g", isa_name(isa), batch, in_hw,
              in_hw, stride, c1, k, c3, cout, int(shortcut), worst);
    CHECK_MSG(got[want.size()] == 777.f, "%s dw+pwpw wrote past its output", isa_name(isa));
  }
}

// MobileNet's shape: the depthwise bands feeding one 1x1 GEMM, with or without the residual
// add in its epilogue (dw_conv1x1.h).
// small_bands: bands of a few rows (many per range) instead of the step's one GEMM tile.
static void check_conv1x1(int batch, int in_hw, int stride, int c1, int k, int cout, bool residual, bool small_bands,
                          unsigned seed) {
  DwconvShape d = dw_shape(in_hw, stride, c1, k);
  const int pixels = batch * d.out_h * d.out_w, c2 = d.out_c;
  std::vector<float> x1(size_t(batch) * in_hw * in_hw * c1 + kDwconvInputSlack), wd(size_t(c2) * 9), bd(c2),
      w(size_t(cout) * c2), b(cout), res(size_t(pixels) * cout);
  for (auto* v : {&x1, &wd, &bd, &w, &b, &res}) test::fill(*v, seed++);
  const Activation act_dw = Activation(seed % 3), act = Activation((seed + 1) % 3);

  const KernelTable& ref = kernel_table(Isa::kReference);
  d.batch = batch;
  const PackedDwconv ref_weights = pack_dwconv(d, ref.dwconv.cw, wd.data(), bd.data());
  std::vector<float> mid(size_t(pixels) * c2), want(size_t(pixels) * cout);
  ref.dwconv.fn(DwconvArgs{&d, &ref_weights, x1.data(), mid.data(), epilogue_of(act_dw), 0, batch * d.out_h, nullptr});
  d.batch = 1;
  for (int p = 0; p < pixels; ++p)
    for (int o = 0; o < cout; ++o) {
      double acc = b[o] + (residual ? res[size_t(p) * cout + o] : 0.0);
      for (int c = 0; c < c2; ++c) acc += double(mid[size_t(p) * c2 + c]) * w[size_t(o) * c2 + c];
      want[size_t(p) * cout + o] = activate(act, float(acc));
    }

  for (Isa isa : available_isas()) {
    const KernelTable& table = kernel_table(isa);
    const GemmKernel& kern = table.gemm_for(cout);
    const DwConv1x1 step(table.dwconv, d, wd.data(), bd.data(), act_dw, kern, cout, w.data(), b.data(), act,
                         small_bands ? 2 * kern.mr + 1 : 0);
    std::vector<float> scratch(step.scratch_floats()), got(want.size() + 8, 777.f);
    const int cut = pixels / 2 + 1;
    for (auto [p0, p1] : {std::pair{0, cut}, std::pair{cut, pixels}})
      if (p1 > p0) step.run(batch, x1.data(), residual ? res.data() : nullptr, got.data(), scratch.data(), p0, p1);
    double worst;
    ++cases;
    CHECK_MSG(test::close(got.data(), want.data(), want.size(), 3e-5 * (1 + c2 / 64.0), &worst),
              "%s dw+conv1x1 n=%d %dx%d s%d c1=%d k=%d cout=%d residual=%d: error %g", isa_name(isa), batch, in_hw,
              in_hw, stride, c1, k, cout, int(residual), worst);
    CHECK_MSG(got[want.size()] == 777.f, "%s dw+conv1x1 wrote past its output", isa_name(isa));
  }
}

int main() {
  unsigned seed = 1;
  for (const auto& z : test::kZooModules) {
    const bool proj = z.cin != z.cout || z.stride != 1;
    check(1, test::spatial(z.hw), z.stride, z.cin, z.c1, z.k, z.c3, z.cout,
          proj ? Shortcut::kProjection : Shortcut::kIdentity, seed);
    seed += 16;
  }
  for (int c1 : {1, 3, 5, 7, 17})
    for (int k : {1, 2, 3, 4})
      for (int stride : {1, 2}) {
        const Shortcut sc = stride == 2 ? Shortcut::kProjection : Shortcut(seed % 3);
        const int cout = sc == Shortcut::kIdentity ? 5 + c1 : 9 + k;
        check(1, 9, stride, 6, c1, k, 1 + c1 % 5, cout, sc, seed);
        check(3, 7, stride, 6, c1, k, 8, cout, sc, seed + 4);  // bands and ranges that cross images
        check(2, 1, stride, 6, c1, k, 3, cout, sc, seed + 8);  // 1x1 images
        check(1, test::spatial(23), stride, 6, c1, k, 5, cout, sc, seed + 12);  // widths past one vector group
        seed += 16;
      }
  // MobileNet-V2's depthwise -> projection pairs (multiplier 1), then edge shapes.
  for (auto [hw, s, c, cout] : {std::array{112, 1, 32, 16}, {112, 2, 96, 24}, {56, 1, 144, 24}, {56, 2, 144, 32},
                                {28, 1, 192, 32}, {14, 1, 384, 64}, {14, 1, 576, 96}, {14, 2, 576, 160},
                                {7, 1, 960, 160}, {7, 1, 960, 320}})
    check_conv1x1(1, test::spatial(hw), s, c, 1, cout, s == 1 && hw != 112, false, seed++);
  for (int c1 : {1, 3, 7, 17})
    for (int k : {1, 2, 4})
      for (int stride : {1, 2}) {
        check_conv1x1(2, 7, stride, c1, k, 5 + c1, stride == 1, true, seed);
        check_conv1x1(1, test::spatial(13), stride, c1, k, 16 + k, false, true, seed + 4);
        check_conv1x1(3, 5, stride, c1, k, 3 + k, stride == 1, false, seed + 6);  // one band per image or more
        seed += 8;
      }
  std::printf("%d cases (%s mode)\n", cases, test::small_mode() ? "small" : "full");
  TEST_MAIN_END();
}
