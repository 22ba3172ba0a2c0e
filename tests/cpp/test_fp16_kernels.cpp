// fp16 kernel tester (precision "fp16", kernels/gemm/gemm_neonfp16.inc): where the CPU has
// FEAT_FP16 (qemu-aarch64 -cpu max, or its default CPU), every fp16 GEMM kernel, as listed and
// alone, on edge shapes and on every 1x1 layer shape of the four nets, checked two ways:
//  1. bit for bit against the fp16 model below: the kernels' own reference, a scalar loop
//     that rounds exactly where the kernels do (a and w to binary16, each FMA once to
//     binary16 from zero in k order, then fp32 bias, residual and clamp);
//  2. against the double-precision product within the documented bound (DESIGN.md, "fp16
//     precision"): |y - y_exact| <= (k + 2) u S + k 2^-25 + fp32 terms, u = 2^-11 and
//     S = sum_k |a_k w_k| (rigorous: each of the 2 input roundings and k FMA roundings has
//     relative error at most u; subnormal sums at most half of 2^-24 each). The worst
//     measured error is printed in units of u S and of u S sqrt(k) (the typical growth of
//     rounding errors of random sign).
// Everywhere: the packing's float -> binary16 rounding (gemm.h) against the model's rounding.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <set>
#include <vector>

#include "kernels/dispatch/kernel_table.h"
#include "fp16_model.h"
#include "gemm_variants.h"
#include "test_harness.h"
#include "zoo_shapes.h"

using namespace attocore;
using test::half_bits_value;
using test::round_half;

static int cases = 0;
static double worst_us = 0, worst_us_sqrtk = 0;  // measured error / (u S), / (u S sqrt(k))

static void check_half_rounding() {
  unsigned x = 12345;
  int bad = 0;
  for (int i = 0; i < 100000; ++i) {
    x = x * 1664525u + 1013904223u;
    // Exponents from subnormal halves to past the largest; and every tie pattern nearby.
    float f;
    uint32_t bits = (x & 0x807fffffu) | (uint32_t(101 + (x >> 8) % 42) << 23);
    if (i % 4 == 1) bits = (bits & ~0x1fffu) | 0x1000u;  // a tie at normal halves
    std::memcpy(&f, &bits, 4);
    const double want = round_half(double(f)), got = half_bits_value(float_to_half_bits(f));
    if (!(want == got)) ++bad;
  }
  ++cases;
  CHECK_MSG(bad == 0, "float_to_half_bits: %d of 100000 roundings differ from the model", bad);
  CHECK(half_bits_value(float_to_half_bits(65504.f)) == 65504 && std::isinf(half_bits_value(float_to_half_bits(65520.f))));
  CHECK(std::isnan(half_bits_value(float_to_half_bits(NAN))));
}

static Epilogue epilogue(unsigned i) { return Epilogue{test::clamp_for(i).min, test::clamp_for(i).max}; }

static void check(const GemmKernel& kernel, int m, int k, int n, bool residual, Epilogue ep, unsigned seed) {
  std::vector<float> a(size_t(m) * (k + 3)), w(size_t(k) * n), bias(n), res(size_t(m) * (n + 1)), c(size_t(m) * (n + 2));
  test::fill(a, seed), test::fill(w, seed + 1), test::fill(bias, seed + 2), test::fill(res, seed + 3);
  const size_t lda = k + 3, ldc = n + 2, ldr = n + 1;
  PackedGemmB b = pack_gemm_b(k, n, kernel, bias.data(), [&](int ki, int ni) { return w[size_t(ki) * n + ni]; });
  const std::vector<float> sentinel(c.size(), 12345.f);
  c = sentinel;
  gemm(kernel, m, a.data(), lda, b, c.data(), ldc, residual ? res.data() : nullptr, ldr, ep);
  int mismatches = 0, outside = 0, untouched_bad = 0;
  double first_got = 0, first_want = 0;
  std::vector<double> ah(a.size()), wh(w.size());  // the operands as binary16, rounded once
  for (size_t i = 0; i < a.size(); ++i) ah[i] = round_half(a[i]);
  for (size_t i = 0; i < w.size(); ++i) wh[i] = round_half(w[i]);
  for (int r = 0; r < m; ++r) {
    for (int j = 0; j < n; ++j) {
      double s = 0, exact = bias[j], sum_abs = 0;
      for (int ki = 0; ki < k; ++ki) {
        const double x = a[r * lda + ki], y = w[size_t(ki) * n + j];
        s = round_half(std::fma(ah[r * lda + ki], wh[size_t(ki) * n + j], s));
        exact += x * y;
        sum_abs += std::fabs(x * y);
      }
      float model = float(s) + bias[j];
      if (residual) model += res[r * ldr + j], exact += res[r * ldr + j];
      model = ep.apply(model);
      const double exact_y = ep.apply(float(exact));
      const float got = c[r * ldc + j];
      if (std::memcmp(&got, &model, 4) != 0 && mismatches++ == 0) first_got = got, first_want = model;
      const double u = std::ldexp(1.0, -11), err = std::fabs(got - exact_y);
      const double bound = (k + 2) * u * sum_abs * 1.001 + k * std::ldexp(1.0, -25) +
                           4e-7 * (std::fabs(exact) + std::fabs(bias[j]) + (residual ? std::fabs(res[r * ldr + j]) : 0)) + 1e-30;
      if (err > bound) ++outside;
      // Measured: clamped outputs excluded (the clamp hides the error).
      // Measured: clamped outputs excluded (the clamp hides the error), the fp32 terms' share
      // (bias and residual additions, ~2^-24 of their size) taken off.
      const double fp32_part = 1.2e-7 * (std::fabs(exact) + std::fabs(bias[j]) + (residual ? std::fabs(res[r * ldr + j]) : 0));
      if (sum_abs > 0 && exact_y == double(float(exact))) {
        const double e16 = err > fp32_part ? err - fp32_part : 0;
        worst_us = std::fmax(worst_us, e16 / (u * sum_abs));
        worst_us_sqrtk = std::fmax(worst_us_sqrtk, e16 / (u * sum_abs * std::sqrt(double(k))));
      }
    }
    for (size_t j = n; j < ldc; ++j) untouched_bad += c[r * ldc + j] != 12345.f;
  }
  ++cases;
  CHECK_MSG(mismatches == 0, "%s m=%d k=%d n=%d residual=%d: %d outputs differ from the fp16 model (first %.9g, want %.9g)",
            kernel.name, m, k, n, residual, mismatches, first_got, first_want);
  CHECK_MSG(outside == 0, "%s m=%d k=%d n=%d: %d outputs outside the fp16 bound", kernel.name, m, k, n, outside);
  CHECK_MSG(untouched_bad == 0, "%s m=%d k=%d n=%d wrote past the last column", kernel.name, m, k, n);
  std::vector<float> split = sentinel;
  const int half = b.panels() / 2;
  gemm_panels(kernel, m, a.data(), lda, b, 0, half, split.data(), ldc, residual ? res.data() : nullptr, ldr, ep);
  gemm_panels(kernel, m, a.data(), lda, b, half, b.panels(), split.data(), ldc, residual ? res.data() : nullptr, ldr, ep);
  CHECK_MSG(split == c, "%s m=%d k=%d n=%d: split by panels differs", kernel.name, m, k, n);
}

int main() {
  check_half_rounding();
  const Fp16Support support = fp16_support();
  if (!support.available) {
    std::printf("fp16 kernels not run: %s\n", support.reason.c_str());
    std::printf("%d cases\n", cases);
    TEST_MAIN_END();
  }
  const KernelTable& table = fp16_kernel_table();
  const std::vector<const GemmKernel*>& listed = fp16_kernel_list().gemm;
  CHECK(listed.size() >= 2 && table.gemm_wide->packing == GemmPacking::kHalf);
  std::deque<GemmKernel> variants;
  const std::vector<const GemmKernel*> kernels = with_tailless_copies(listed, variants);
  auto is_listed = [&](const GemmKernel* k) { return std::find(listed.begin(), listed.end(), k) != listed.end(); };
  for (const GemmKernel* kernel : kernels) {
    unsigned seed = 1;
    for (int m : {1, 7, 8, 9, 17})
      for (int k : {1, 3, 7, 8, 9, 16, 17, 33})
        for (int n : {1, 7, 8, 9, 16, 17, 33})
          check(*kernel, m, k, n, (m + k + n) % 2 == 0, epilogue(m + n), seed++);
    // A classifier at batch 1 (long k: the fp16 sums' largest error).
    for (int k : {64, 255, 1280})
      for (int n : {10, 65, 1000})
        if (!test::small_mode() || k * n < 70000) check(*kernel, 1, k, n, false, epilogue(0), seed++);
    // Every 1x1 layer shape of the zoo (compress, mix, decompress + projection), each once, at
    // a few rows (the listed kernels; their tail-less copies differ on narrow panels only).
    if (!is_listed(kernel)) continue;
    std::set<std::pair<int, int>> seen;
    const int rows = test::small_mode() ? 3 : 9;
    for (const auto& z : test::kZooModules) {
      if (seen.insert({z.cin, z.c1}).second) check(*kernel, rows, z.cin, z.c1, false, epilogue(1), seed++);
      if (seen.insert({z.c1 * z.k, z.c3}).second) check(*kernel, rows, z.c1 * z.k, z.c3, false, epilogue(1), seed++);
      if (seen.insert({z.c3 + z.cin, z.cout}).second) check(*kernel, rows, z.c3 + z.cin, z.cout, true, epilogue(1), seed++);
    }
  }
  std::printf("neonfp16: gemm kernels checked (%zu listed); worst error %.3f u S, %.3f u S sqrt(k) (u = 2^-11)\n",
              listed.size(), worst_us, worst_us_sqrtk);
  std::printf("%d cases\n", cases);
  TEST_MAIN_END();
}
