// fp16 depthwise tester (precision "fp16": dwconv_neonfp16, fp16_kernel_list().dwconv): where
// the CPU has FEAT_FP16 (qemu-aarch64 -cpu max, or its default CPU), on edge shapes (channels
// not a multiple of 8, widths 1-17, multipliers 1-5, strides 1 and 2, padding 0-2 and
// asymmetric, 5x5 / 7x7 / dilated windows, batch 2, clamps with bounds binary16 holds and
// bounds it does not) and on every grouped layer of the four nets, each run as two threads
// would split its rows and as a fused step's row bands (output_row0, each continuing the
// call before: DwconvArgs::continues), checked two ways:
//  1. bit for bit against the fp16 model below, which rounds where the kernel does: bias, x
//     and w to binary16, s = half(b), then s = half(fma(x, w, s)) per tap inside the image,
//     window row by row, then y = clamp(float(s)) in fp32;
//  2. against the double-precision result within the documented bound (DESIGN.md, "fp16
//     precision"), with u = 2^-11, n the output's taps inside the image and
//     S = |b| + sum_t |x_t w_t|:
//       |y - y_exact| <= gamma(n + 2) S + 2^-25 (n + 1 + sum_t (|x_t| + |w_t|)) + 2^-24 |y_exact|
//     gamma(m) = m u / (1 - m u): a product passes through at most n + 2 roundings (x, w and
//     the FMAs from its own on), the bias through n + 1, each of relative error <= u; a
//     rounding into binary16's subnormals errs by at most 2^-25 absolute; the last term is the
//     fp32 rounding of the exact value the reference clamps. The worst measured error is
//     printed in units of u S and of the bound.
// Also: nothing written past the output, nor past dwconv_scratch_floats() of scratch; the
// input's slack (kDwconvInputSlack floats, which the kernel may read) holds NaN, so a lane that
// used it where it should not would show.
#include <algorithm>
#include <cmath>
#include <vector>

#include "fp16_model.h"
#include "kernels/dispatch/kernel_table.h"
#include "kernels/gemm/gemm.h"
#include "util/error.h"
#include "test_harness.h"
#include "zoo_shapes.h"

using namespace attocore;
using test::round_half;

static int cases = 0;
static double worst_us = 0, worst_of_bound = 0;  // measured error / (u S), / the bound

struct Case {
  int batch = 1, h = 0, w = 0, c = 0, k = 1, kernel = 3, stride = 1, dilation = 1;
  int pad_top = 1, pad_left = 1, pad_bottom = 1, pad_right = 1;
};

static DwconvShape shape_of(const Case& t) {
  DwconvShape s;
  s.batch = t.batch, s.in_h = t.h, s.in_w = t.w, s.in_c = t.c, s.multiplier = t.k, s.out_c = t.c * t.k;
  WindowAttrs& w = s.window;
  w.kernel_h = w.kernel_w = t.kernel;
  w.stride_h = w.stride_w = t.stride;
  w.dilation_h = w.dilation_w = t.dilation;
  w.pad_top = t.pad_top, w.pad_left = t.pad_left, w.pad_bottom = t.pad_bottom, w.pad_right = t.pad_right;
  w.groups = t.c;
  const int span = (t.kernel - 1) * t.dilation + 1;
  s.out_h = (t.h + t.pad_top + t.pad_bottom - span) / t.stride + 1;
  s.out_w = (t.w + t.pad_left + t.pad_right - span) / t.stride + 1;
  return s;
}

static void check(const DwconvKernel& kern, const Case& t, unsigned seed) {
  const DwconvShape s = shape_of(t);
  if (s.out_h < 1 || s.out_w < 1) return;
  const size_t in_n = size_t(t.batch) * t.h * t.w * t.c, taps = size_t(t.kernel) * t.kernel;
  std::vector<float> x(in_n), wt(size_t(s.out_c) * taps), bias(s.out_c);
  test::fill(x, seed), test::fill(wt, seed + 1), test::fill(bias, seed + 2);
  x.resize(in_n + kDwconvInputSlack, NAN);
  // The testers' clamps (none, ReLU, ReLU6, one crossing zero: all binary16 values, clamped in
  // fp16) and every fifth case bounds binary16 does not hold (clamped in fp32 after widening).
  const Epilogue ep = seed % 5 == 4 ? Epilogue{-0.3f, 0.7f} : Epilogue{test::clamp_for(seed).min, test::clamp_for(seed).max};
  const PackedDwconv p = pack_dwconv(s, kern, wt.data(), bias.data());
  const int rows = t.batch * s.out_h;
  const size_t row_n = size_t(s.out_w) * s.out_c, out_n = size_t(rows) * row_n;
  const size_t scratch_n = dwconv_scratch_floats(s, kern);
  std::vector<float> scratch(scratch_n + 64, 555.f);

  // As two threads split the rows, then as bands of 2 rows into a band buffer (output_row0).
  std::vector<float> got(out_n + 8, 777.f), banded(out_n, 0.f), band(2 * row_n + 8, 777.f);
  const int mid = rows / 2;
  {  // Another input first, on the same scratch: a call that does not continue it must not reuse its rows.
    std::vector<float> other(x.size()), other_out(out_n);
    test::fill(other, seed + 3);
    kern.fn(DwconvArgs{&s, &p, other.data(), other_out.data(), ep, 0, rows, scratch.data()});
  }
  kern.fn(DwconvArgs{&s, &p, x.data(), got.data(), ep, 0, mid, scratch.data()});
  kern.fn(DwconvArgs{&s, &p, x.data(), got.data(), ep, mid, rows, scratch.data()});
  bool band_overrun = false;
  for (int r0 = 0; r0 < rows; r0 += 2) {
    const int r1 = std::min(rows, r0 + 2);
    kern.fn(DwconvArgs{&s, &p, x.data(), band.data(), ep, r0, r1, scratch.data(), r0, r0 > 0});  // as DwconvBands
    std::copy(band.begin(), band.begin() + (r1 - r0) * row_n, banded.begin() + r0 * row_n);
    band_overrun = band_overrun || band[2 * row_n] != 777.f;
  }

  const double u = std::ldexp(1.0, -11);
  int mismatches = 0, outside = 0;
  double first_got = 0, first_want = 0;
  for (int row = 0; row < rows; ++row) {
    const int n = row / s.out_h, oy = row % s.out_h;
    const float* image = x.data() + size_t(n) * t.h * t.w * t.c;
    for (int ox = 0; ox < s.out_w; ++ox)
      for (int oc = 0; oc < s.out_c; ++oc) {
        double model = round_half(bias[oc]), exact = bias[oc], sum_abs = std::fabs(bias[oc]), sum_operands = 0;
        int n_taps = 0;
        for_each_window_tap(s, oy, ox, [&](int iy, int ix, int tap) {
          const double xv = image[(size_t(iy) * t.w + ix) * t.c + oc / t.k], wv = wt[size_t(oc) * taps + tap];
          model = round_half(std::fma(round_half(xv), round_half(wv), model));
          exact += xv * wv;
          sum_abs += std::fabs(xv * wv);
          sum_operands += std::fabs(xv) + std::fabs(wv);
          ++n_taps;
        });
        const size_t at = row * row_n + size_t(ox) * s.out_c + oc;
        const float want_bits = ep.apply(float(model)), y = got[at];
        if (!(y == want_bits && banded[at] == want_bits) && mismatches++ == 0) first_got = y, first_want = want_bits;
        const double exact_y = ep.apply(float(exact)), err = std::fabs(double(y) - exact_y);
        const double m = n_taps + 2, gamma = m * u / (1 - m * u);
        const double bound = gamma * sum_abs + std::ldexp(1.0, -25) * (n_taps + 1 + sum_operands) +
                             std::ldexp(1.0, -24) * std::fabs(exact) + 1e-30;
        if (!(err <= bound)) ++outside;
        if (exact_y == double(float(exact)) && sum_abs > 0) {  // not clamped: the clamp hides the error
          worst_us = std::max(worst_us, err / (u * sum_abs));
          worst_of_bound = std::max(worst_of_bound, err / bound);
        }
      }
  }
  ++cases;
  CHECK_MSG(mismatches == 0,
            "%s n=%d %dx%d c=%d k=%d %dx%d s=%d d=%d pad %d,%d,%d,%d: %d outputs differ from the fp16 model "
            "(first %.9g, want %.9g)",
            kern.name, t.batch, t.h, t.w, t.c, t.k, t.kernel, t.kernel, t.stride, t.dilation, t.pad_top, t.pad_left,
            t.pad_bottom, t.pad_right, mismatches, first_got, first_want);
  CHECK_MSG(outside == 0, "%s %dx%d c=%d k=%d %dx%d s=%d: %d outputs outside the fp16 bound", kern.name, t.h, t.w, t.c,
            t.k, t.kernel, t.kernel, t.stride, outside);
  CHECK_MSG(got[out_n] == 777.f && !band_overrun, "%s %dx%d c=%d k=%d: wrote past its output", kern.name, t.h, t.w,
            t.c, t.k);
  CHECK_MSG(std::all_of(scratch.begin() + scratch_n, scratch.end(), [](float v) { return v == 555.f; }),
            "%s %dx%d c=%d k=%d: wrote past dwconv_scratch_floats (%zu)", kern.name, t.h, t.w, t.c, t.k, scratch_n);
}

static Case square(int batch, int h, int w, int c, int k, int kernel, int stride, int pad) {
  Case t;
  t.batch = batch, t.h = h, t.w = w, t.c = c, t.k = k, t.kernel = kernel, t.stride = stride;
  t.pad_top = t.pad_left = t.pad_bottom = t.pad_right = pad;
  return t;
}

// Whether packing refuses, with a config error naming precision fp16, a value binary16 turns
// infinite. The packing is portable: this part runs on every machine.
template <typename Pack>
static void expect_refused(const char* what, const Pack& pack) {
  ++cases;
  try {
    pack();
  } catch (const Error& e) {
    CHECK_MSG(e.code() == ErrorCode::kConfig && std::string(e.what()).find("\"fp16\"") != std::string::npos,
              "%s: refused with the wrong error: %s", what, e.what());
    return;
  }
  CHECK_MSG(false, "%s: packed a weight binary16 cannot hold", what);
}

static void check_weight_range() {
  const DwconvShape s = shape_of(square(1, 4, 4, 8, 1, 3, 1, 1));
  std::vector<float> wt(size_t(s.out_c) * 9, 0.25f), bias(s.out_c, 0.f);
  // binary16's largest, packed as is: output channel 0's tap 3 (at 8 biases + 3 x 8), bias 1.
  wt[3] = 65504.f, bias[1] = -65504.f;
  const PackedDwconv ok = pack_dwconv(s, 8, wt.data(), bias.data(), DwconvWeights::kHalf);
  CHECK(ok.half.size() == ok.chunk_floats() && ok.half[8 + 3 * 8] == 0x7bffu && ok.half[1] == 0xfbffu);
  for (float big : {65520.f, 7e4f, -1e5f, 3e38f}) {
    std::vector<float> w2 = wt, b2 = bias;
    w2[3] = big;
    expect_refused("depthwise weight", [&] { pack_dwconv(s, 8, w2.data(), b2.data(), DwconvWeights::kHalf); });
    b2[1] = big, w2[3] = 0.25f;
    expect_refused("depthwise bias", [&] { pack_dwconv(s, 8, w2.data(), b2.data(), DwconvWeights::kHalf); });
  }
  std::vector<float> panel(16 + 16 * 8, 0.f);  // NR bias floats, then k x NR halves
  auto gemm_weight = [](float big) {
    return [big](int k, int n) { return k == 2 && n == 5 ? big : 0.5f; };
  };
  pack_gemm_panel(panel.data(), 8, 16, GemmPacking::kHalf, 0, 16, nullptr, gemm_weight(-65504.f));
  expect_refused("GEMM weight", [&] {
    pack_gemm_panel(panel.data(), 8, 16, GemmPacking::kHalf, 0, 16, nullptr, gemm_weight(65536.f));
  });
}

int main() {
  check_weight_range();
  const Fp16Support support = fp16_support();
  if (!support.available) {
    std::printf("fp16 dwconv kernel not run: %s\n", support.reason.c_str());
    std::printf("%d cases\n", cases);
    TEST_MAIN_END();
  }
  const std::vector<const DwconvKernel*>& listed = fp16_kernel_list().dwconv;
  CHECK(listed.size() == 1 && fp16_kernel_table().dwconv.fn == listed[0]->fn);
  for (const DwconvKernel* kp : listed) {
    const DwconvKernel& kern = *kp;
    CHECK(kern.weights == DwconvWeights::kHalf && kern.cw == 8);
    unsigned seed = 1;
    // 3x3, padding 1: every row width from 1 to 17 (groups of 7, 8 and a partial last group),
    // channels below, at and past a chunk of 8, multipliers 1-4 (1, 2, 4 by vector, 3 by the
    // scalar staging), both strides, batch 2 for odd channel counts.
    for (int k : {1, 2, 3, 4})
      for (int c : {1, 3, 5, 8, 17})
        for (int stride : {1, 2})
          for (int wd = 1; wd <= 17; ++wd) check(kern, square(1 + (c % 2), 3 + wd % 3, wd, c, k, 3, stride, 1), seed++);
    for (int c : {3, 16}) check(kern, square(1, 6, 9, c, 5, 3, 1, 1), seed++);  // multiplier 5
    // Padding 0 and 2, and the asymmetric padding of TensorFlow's "SAME" at stride 2.
    for (int pad : {0, 2})
      for (int stride : {1, 2}) check(kern, square(1, 7, 11, 9, 2, 3, stride, pad), seed++);
    for (int wd : {8, 9, 14}) {
      Case t = square(1, wd, wd, 12, 1, 3, 2, 0);
      t.pad_bottom = t.pad_right = 1;
      check(kern, t, seed++);
      t.pad_top = 2;  // a band's top padding (DwconvBands::run_rows) differs from its left
      check(kern, t, seed++);
    }
    // Other windows (5x5, 7x7: the row loop over any window), dilation 2, every padding.
    for (int kernel : {5, 7})
      for (int k : {1, 2})
        for (int stride : {1, 2})
          for (int pad : {0, kernel / 2, kernel - 1})
            for (int wd : {kernel, 12, 23}) check(kern, square(1 + (k % 2), 9, wd, 17, k, kernel, stride, pad), seed++);
    for (int stride : {1, 2}) {
      Case t = square(1, 9, 13, 10, 1, 3, stride, 2);
      t.dilation = 2;
      check(kern, t, seed++);
    }
    // Every grouped layer of the four nets (small mode: 9x9 images).
    for (const auto& z : test::kZooModules) {
      const int hw = test::spatial(z.hw);
      check(kern, square(1, hw, hw, z.c1, z.k, 3, z.stride, 1), seed++);
    }
  }
  std::printf("neonfp16: dwconv kernels checked (%zu listed); worst error %.3f u S, %.3f of the bound (u = 2^-11, "
              "S = |b| + sum |x w|)\n",
              listed.size(), worst_us, worst_of_bound);
  std::printf("%d cases (%s mode)\n", cases, test::small_mode() ? "small" : "full");
  TEST_MAIN_END();
}
