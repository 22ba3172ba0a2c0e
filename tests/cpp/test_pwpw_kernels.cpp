// Fused back-to-back 1x1 tester: every ISA's GEMM kernels inside the fused module tail
// (no shortcut, identity, strided projection) against the plain three-loop reference, on
// every module of the four nets and on edge shapes (c3 of 1, odd widths, 1x1 images).
#include <vector>

#include "kernels/dispatch/kernel_table.h"
#include "kernels/eltwise/activation.h"
#include "steps/pwpw.h"
#include "test_harness.h"
#include "zoo_shapes.h"

using namespace attocore;

static int cases = 0;

static void check(int batch, int in_hw, int stride, int cin, int c2, int c3, int cout, Shortcut shortcut, unsigned seed) {
  PwpwShape s;
  s.c2 = c2, s.c3 = c3, s.cout = cout, s.shortcut = shortcut;
  s.out_h = s.out_w = (in_hw - 1) / stride + 1;
  s.x_c = shortcut == Shortcut::kProjection ? cin : cout;
  s.x_h = s.x_w = shortcut == Shortcut::kProjection ? in_hw : s.out_h;
  s.stride = shortcut == Shortcut::kProjection ? stride : 1;
  const int pixels = batch * s.out_h * s.out_w;
  std::vector<float> x2(size_t(pixels) * c2), x(size_t(batch) * s.x_h * s.x_w * s.x_c), w1(size_t(c3) * c2), b1(c3),
      w2(size_t(cout) * c3), b2(cout), wp(size_t(cout) * cin), bp(cout);
  for (auto* v : {&x2, &x, &w1, &b1, &w2, &b2, &wp, &bp}) test::fill(*v, seed++);
  const Activation act1 = Activation(seed % 3), act_out = Activation((seed + 1) % 3);
  const bool proj = shortcut == Shortcut::kProjection;
  std::vector<float> want(size_t(pixels) * cout);
  pwpw_reference(s, w1.data(), b1.data(), w2.data(), b2.data(), proj ? wp.data() : nullptr, proj ? bp.data() : nullptr,
                 act1, act_out, x2.data(), x.data(), want.data(), pixels);
  // The attached next product (the next module's compression) on the module output.
  const int cn = 1 + (c2 + cout) % 9;
  std::vector<float> wn(size_t(cn) * cout), bn(cn), want_next(size_t(pixels) * cn);
  test::fill(wn, seed + 40), test::fill(bn, seed + 41);
  for (int p = 0; p < pixels; ++p)
    for (int o = 0; o < cn; ++o) {
      double acc = bn[o];
      for (int c = 0; c < cout; ++c) acc += double(want[size_t(p) * cout + c]) * wn[size_t(o) * cout + c];
      want_next[size_t(p) * cn + o] = activate(Activation::kRelu, float(acc));
    }
  for (Isa isa : available_isas()) {
    const KernelTable& table = kernel_table(isa);
    Pwpw f(s, table.gemm_for(c3), table.gemm_for(cout), w1.data(), b1.data(), w2.data(), b2.data(),
           proj ? wp.data() : nullptr, proj ? bp.data() : nullptr, act1, act_out);
    const bool with_next = (seed % 2) == 0;
    if (with_next) f.attach_next(table.gemm_for(cn), cn, wn.data(), bn.data(), Activation::kRelu);
    std::vector<float> scratch(f.scratch_floats()), got(want.size()), next(want_next.size());
    f.run(x2.data(), shortcut == Shortcut::kNone ? nullptr : x.data(), got.data(), scratch.data(), 0, pixels / 2,
          with_next ? next.data() : nullptr);
    f.run(x2.data(), shortcut == Shortcut::kNone ? nullptr : x.data(), got.data(), scratch.data(), pixels / 2, pixels,
          with_next ? next.data() : nullptr);
    const double tol = 3e-5 * (1 + (c2 + c3 + cin) / 64.0);
    double worst;
    ++cases;
    CHECK_MSG(test::close(got.data(), want.data(), want.size(), tol, &worst),
              "%s pwpw %dx%d s%d c2=%d c3=%d cout=%d shortcut=%d: error %g", isa_name(isa), in_hw, in_hw, stride, c2, c3,
              cout, int(shortcut), worst);
    if (with_next)
      CHECK_MSG(test::close(next.data(), want_next.data(), want_next.size(), tol * (1 + cout / 64.0), &worst),
                "%s pwpw+next c2=%d cout=%d -> %d: error %g", isa_name(isa), c2, cout, cn, worst);
  }
}

int main() {
  unsigned seed = 1;
  for (const auto& z : test::kZooModules) {
    const bool proj = z.cin != z.cout || z.stride != 1;
    check(1, test::spatial(z.hw), z.stride, z.cin, z.c1 * z.k, z.c3, z.cout,
          proj ? Shortcut::kProjection : Shortcut::kIdentity, seed);
    seed += 16;
  }
  for (int c3 : {1, 5, 8, 9})
    for (int cout : {1, 7, 16, 17, 139})
      for (Shortcut sc : {Shortcut::kNone, Shortcut::kIdentity, Shortcut::kProjection}) {
        check(2, 5, 2, 3, 7, c3, cout, sc, seed);
        check(3, 5, 2, 3, 7, c3, cout, sc, seed + 4);  // 27 pixels: the second range starts mid-image
        check(1, 1, 1, 5, 4, c3, cout, sc, seed + 8);
        seed += 16;
      }
  std::printf("%d cases (%s mode)\n", cases, test::small_mode() ? "small" : "full");
  TEST_MAIN_END();
}
