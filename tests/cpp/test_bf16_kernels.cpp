// bf16 kernel tester (precision "bf16", kernels/gemm/gemm_avx512bf16.inc and gemm_amxbf16.inc): every
// entry of the bf16 GEMM lists, as listed and alone, on edge shapes (odd k: bf16 pairs pad k; k across the
// kernels' 256-value A segments) and on every 1x1 layer shape of the four nets, checked
//  1. against the fp32 reference GEMM (the reference table's kernel on the same inputs)
//     within the documented bound (DESIGN.md, "bf16 precision"): with u = 2^-8 (bf16's unit
//     roundoff) and S = sum_k |a_k w_k|,
//       |y_bf16 - y_fp32| <= (2u + u^2) S + 2 (k + 3) 2^-24 (S + |bias| + |residual|)
//     (rigorous: each of a and w is rounded once to bf16, relative error <= u each, so a
//     product <= 2u + u^2; both sides then sum in fp32 with k + 2 roundings each). The worst
//     measured difference is printed in units of u S and of u S sqrt(k);
//  2. bit for bit against a scalar model of the instructions (bias, then per k-pair
//     fma(odd) then fma(even) in fp32; for the 6x8 kernel's k-pair quads four phases from
//     zero, summed (p0 + p1) + (p2 + p3) and added to the bias; residual, clamp): required of
//     the emulated kernels,
//     counted and printed for the native ones (Intel's pseudocode gives that order; whether
//     every vendor's vdpbf16ps rounds exactly so is what the count shows on such a CPU).
// The native kernels run only where the CPU has AVX512-BF16 (else skipped, with the reason);
// the same kernel code on the AVX-512F emulation of the two instructions
// (gemm_bf16emu_avx512.inc) runs on every AVX-512F CPU. Also: the packing's float -> bf16
// rounding against a model, the emulated conversion and dot against it and against a scalar
// model bit for bit (random normal inputs), and the native ones where they exist.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kernels/dispatch/cpu_features.h"
#include "kernels/dispatch/kernel_table.h"
#include "gemm_variants.h"
#include "test_harness.h"
#include "zoo_shapes.h"
#ifdef ATTOCORE_HAVE_AVX512
#include "kernels/gemm/gemm_bf16emu_avx512.h"
#endif
#ifdef ATTOCORE_HAVE_AVX512BF16
#include "kernels/gemm/gemm_avx512bf16.h"
#endif

using namespace attocore;

static int cases = 0;

static float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
static uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
static float bf16_value(uint16_t h) { return bits_float(uint32_t(h) << 16); }

// x rounded to bf16 by value (ties to even, 8 significant bits; past the largest finite to
// infinity), subnormal x to a zero of its sign: Intel's convert_fp32_to_bfloat16, in double.
static double round_bf16(float x) {
  if (x == 0 || !std::isfinite(x)) return x;
  if (std::fabs(x) < std::ldexp(1.0f, -126)) return std::copysign(0.0, x);
  int e;
  std::frexp(double(x), &e);
  const double ulp = std::ldexp(1.0, e - 8);
  const double r = std::nearbyint(double(x) / ulp) * ulp;
  return std::fabs(r) > double(bf16_value(0x7f7f)) ? std::copysign(INFINITY, x) : r;
}

// Random floats over every exponent (subnormals, ties, near-overflow, infinities, NaN).
static std::vector<float> rounding_inputs() {
  std::vector<float> v;
  unsigned x = 12345;
  for (int i = 0; i < 100000; ++i) {
    x = x * 1664525u + 1013904223u;
    uint32_t bits = x;
    if (i % 4 == 1) bits = (bits & ~0xffffu) | 0x8000u;  // a tie
    if (i % 8 == 3) bits &= 0x807fffffu;                 // subnormal (or zero)
    if (i % 16 == 5) bits |= 0x7f000000u;                // near overflow, infinity or NaN
    v.push_back(bits_float(bits));
  }
  for (uint32_t special : {0x0u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0x7f800001u, 0xffbfffffu,
                           0x7f7fffffu, 0x7f7f7fffu, 0x7f7f8000u, 0x00800000u, 0x007fffffu, 0x3f808000u, 0x3f818000u})
    v.push_back(bits_float(special));
  return v;
}

static bool same_bf16(uint16_t got, float x) {
  if (std::isnan(x)) return (got & 0x7f80) == 0x7f80 && (got & 0x7f) != 0 && (got & 0x40) && (got >> 15) == (float_bits(x) >> 31);
  const double want = round_bf16(x);
  return double(bf16_value(got)) == want && std::signbit(bf16_value(got)) == std::signbit(want);
}

static void check_bf16_rounding() {
  const std::vector<float> in = rounding_inputs();
  int bad = 0;
  for (float f : in) bad += !same_bf16(float_to_bf16_bits(f), f);
  ++cases;
  CHECK_MSG(bad == 0, "float_to_bf16_bits: %d of %zu roundings differ from the model", bad, in.size());
  CHECK(float_to_bf16_bits(1.0f) == 0x3f80 && float_to_bf16_bits(bits_float(0x3f808000u)) == 0x3f80 &&
        float_to_bf16_bits(bits_float(0x3f818000u)) == 0x3f82 && float_to_bf16_bits(bits_float(0x7f7fffffu)) == 0x7f80);
}

// One instruction's lanes, by the model: acc += odd(a) odd(b), then += even(a) even(b), each
// one fp32 FMA (the product of two bf16 is exact in fp32).
static float dot_model(float acc, uint32_t a, uint32_t b) {
  acc = std::fma(bits_float(a & 0xffff0000u), bits_float(b & 0xffff0000u), acc);
  return std::fma(bits_float(a << 16), bits_float(b << 16), acc);
}

using PackFn = void (*)(const float*, uint32_t*);
using DotFn = void (*)(const uint32_t*, const uint32_t*, int, float*);

// The operations alone: pack against float_to_bf16_bits (subnormal inputs apart when
// `subnormals_apart`: counted, not required), dot against dot_model on random normal inputs.
[[maybe_unused]] static void check_operations(const char* name, PackFn pack, DotFn dot, bool exact_required) {
  std::vector<float> in = rounding_inputs();
  in.resize(in.size() / 32 * 32);
  int bad = 0, subnormal_differ = 0;
  for (size_t i = 0; i < in.size(); i += 32) {
    uint32_t words[16];
    pack(&in[i], words);
    for (int j = 0; j < 32; ++j) {
      const uint16_t got = uint16_t(j % 2 ? words[j / 2] >> 16 : words[j / 2] & 0xffff);
      const float x = in[i + j];
      const bool subnormal = x != 0 && std::fabs(x) < std::ldexp(1.0f, -126);
      if (!same_bf16(got, x)) (subnormal && !exact_required ? subnormal_differ : bad)++;
    }
  }
  ++cases;
  CHECK_MSG(bad == 0, "%s pack: %d of %zu conversions differ from Intel's rounding", name, bad, in.size());
  // Dots: 16 lanes x 64 steps of bf16 pairs from normal(0, 1) floats (no subnormal products).
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 1.f);
  constexpr int kSteps = 64;
  int differ = 0, outside = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<uint32_t> a(16 * kSteps), b(16 * kSteps);
    for (size_t i = 0; i < a.size(); ++i) {
      a[i] = float_to_bf16_bits(normal(rng)) | uint32_t(float_to_bf16_bits(normal(rng))) << 16;
      b[i] = float_to_bf16_bits(normal(rng)) | uint32_t(float_to_bf16_bits(normal(rng))) << 16;
    }
    float acc[16], model[16];
    for (int l = 0; l < 16; ++l) acc[l] = model[l] = normal(rng);
    dot(a.data(), b.data(), kSteps, acc);
    for (int l = 0; l < 16; ++l) {
      double sum_abs = std::fabs(model[l]);
      for (int s = 0; s < kSteps; ++s) {
        model[l] = dot_model(model[l], a[16 * s + l], b[16 * s + l]);
        sum_abs += std::fabs(bits_float(a[16 * s + l] << 16) * bits_float(b[16 * s + l] << 16)) +
                   std::fabs(bits_float(a[16 * s + l] & 0xffff0000u) * bits_float(b[16 * s + l] & 0xffff0000u));
      }
      differ += float_bits(acc[l]) != float_bits(model[l]);
      // Another order of the same 2 x kSteps + 1 fp32 additions is within this of the model.
      outside += !(std::fabs(double(acc[l]) - double(model[l])) <= 2 * (2 * kSteps + 1) * std::ldexp(1.0, -24) * sum_abs);
    }
  }
  ++cases;
  CHECK_MSG(outside == 0, "%s dot: %d of 3200 lanes off the scalar model by more than the fp32 rounding bound", name,
            outside);
  if (exact_required) CHECK_MSG(differ == 0, "%s dot: %d of 3200 lanes differ from the scalar model's bits", name, differ);
  std::printf("%s operations: pack matches Intel's rounding (%d subnormal inputs differ, not required), dot "
              "bit-identical to fma(odd) then fma(even) on %d of 3200 lanes\n",
              name, subnormal_differ, 3200 - differ);
}

static Epilogue epilogue(unsigned i) { return Epilogue{test::clamp_for(i).min, test::clamp_for(i).max}; }

struct Stats {
  double worst_us = 0, worst_us_sqrtk = 0;  // measured |y_bf16 - y_fp32| / (u S), / (u S sqrt(k))
  long outputs = 0, model_same = 0;
};

static void check(const GemmKernel& kernel, const GemmKernel& reference, bool exact_required, int m, int k, int n,
                  bool residual, Epilogue ep, unsigned seed, Stats* st) {
  std::vector<float> a(size_t(m) * (k + 3)), w(size_t(k) * n), bias(n), res(size_t(m) * (n + 1)), c(size_t(m) * (n + 2));
  test::fill(a, seed), test::fill(w, seed + 1), test::fill(bias, seed + 2), test::fill(res, seed + 3);
  const size_t lda = k + 3, ldc = n + 2, ldr = n + 1;
  auto w_kn = [&](int ki, int ni) { return w[size_t(ki) * n + ni]; };
  const PackedGemmB b = pack_gemm_b(k, n, kernel, bias.data(), w_kn);
  const PackedGemmB b32 = pack_gemm_b(k, n, reference, bias.data(), w_kn);
  const std::vector<float> sentinel(c.size(), 12345.f);
  c = sentinel;
  std::vector<float> c32 = sentinel;
  const float* r = residual ? res.data() : nullptr;
  gemm(kernel, m, a.data(), lda, b, c.data(), ldc, r, ldr, ep);
  gemm(reference, m, a.data(), lda, b32, c32.data(), ldc, r, ldr, ep);
  int mismatches = 0, outside = 0, untouched_bad = 0;
  double first_got = 0, first_want = 0, worst_excess = 0;
  const double u = std::ldexp(1.0, -8), e32 = std::ldexp(1.0, -24);
  for (int row = 0; row < m; ++row) {
    for (int j = 0; j < n; ++j) {
      // The column's kernel: the narrow last panel's may pack (and sum) otherwise.
      const bool in_tail = b.tail != nullptr && j >= b.wide_panels * b.nr;
      const bool quads = (in_tail ? b.tail->packing : kernel.packing) == GemmPacking::kBf16Quads;
      float phase[4] = {0.f, 0.f, 0.f, 0.f}, s = bias[j];
      double sum_abs = 0;
      for (int q = 0; 2 * q < k; ++q) {
        const float lo_a = bf16_value(float_to_bf16_bits(a[row * lda + 2 * q])), lo_w = bf16_value(float_to_bf16_bits(w_kn(2 * q, j)));
        const bool odd = 2 * q + 1 < k;
        const float hi_a = odd ? bf16_value(float_to_bf16_bits(a[row * lda + 2 * q + 1])) : 0.f;
        const float hi_w = odd ? bf16_value(float_to_bf16_bits(w_kn(2 * q + 1, j))) : 0.f;
        float& acc = quads ? phase[q % 4] : s;  // k-pair quads: four phases from zero
        acc = std::fma(hi_a, hi_w, acc);
        acc = std::fma(lo_a, lo_w, acc);
        sum_abs += std::fabs(double(a[row * lda + 2 * q]) * w_kn(2 * q, j)) +
                   (odd ? std::fabs(double(a[row * lda + 2 * q + 1]) * w_kn(2 * q + 1, j)) : 0.0);
      }
      if (quads) s = bias[j] + ((phase[0] + phase[1]) + (phase[2] + phase[3]));
      if (residual) s += res[row * ldr + j];
      const float model = ep.apply(s);
      const float got = c[row * ldc + j], want32 = c32[row * ldc + j];
      const bool same = std::memcmp(&got, &model, 4) == 0;
      st->model_same += same, ++st->outputs;
      if (!same && mismatches++ == 0) first_got = got, first_want = model;
      const double others = sum_abs + std::fabs(bias[j]) + (residual ? std::fabs(res[row * ldr + j]) : 0.0);
      const double err = std::fabs(double(got) - double(want32));
      const double bound = (2 * u + u * u) * sum_abs + 2 * (k + 3) * e32 * others * 1.001 + 1e-30;
      if (!(err <= bound)) ++outside, worst_excess = std::fmax(worst_excess, err / bound);
      // Measured: unclamped outputs (the clamp hides the error), the fp32 sums' share taken off.
      if (sum_abs > 0 && want32 > ep.min && want32 < ep.max) {
        const double fp32_part = 2 * (k + 3) * e32 * others;
        const double e = err > fp32_part ? err - fp32_part : 0;
        st->worst_us = std::fmax(st->worst_us, e / (u * sum_abs));
        st->worst_us_sqrtk = std::fmax(st->worst_us_sqrtk, e / (u * sum_abs * std::sqrt(double(k))));
      }
    }
    for (size_t j = n; j < ldc; ++j) untouched_bad += c[row * ldc + j] != 12345.f;
  }
  ++cases;
  if (exact_required)
    CHECK_MSG(mismatches == 0, "%s m=%d k=%d n=%d residual=%d: %d outputs differ from the bf16 model (first %.9g, want %.9g)",
              kernel.name, m, k, n, residual, mismatches, first_got, first_want);
  CHECK_MSG(outside == 0, "%s m=%d k=%d n=%d: %d outputs outside the bf16 bound of the fp32 reference (worst %.2fx the bound)",
            kernel.name, m, k, n, outside, worst_excess);
  CHECK_MSG(untouched_bad == 0, "%s m=%d k=%d n=%d wrote past the last column", kernel.name, m, k, n);
  std::vector<float> split = sentinel;
  const int half = b.panels() / 2;
  gemm_panels(kernel, m, a.data(), lda, b, 0, half, split.data(), ldc, r, ldr, ep);
  gemm_panels(kernel, m, a.data(), lda, b, half, b.panels(), split.data(), ldc, r, ldr, ep);
  CHECK_MSG(split == c, "%s m=%d k=%d n=%d: split by panels differs", kernel.name, m, k, n);
}

// Every kernel of a bf16 list, as listed and without its tail, on the edge and zoo shapes;
// and that the table reaches every one of them (a list entry no layer can get is dead code).
static void check_list(const char* name, const KernelTable& table, const std::vector<const GemmKernel*>& listed,
                       bool exact_required) {
  const GemmKernel& reference = *kernel_list(Isa::kReference).gemm.back();
  CHECK(!listed.empty());
  std::set<const GemmKernel*> reached;
  for (const GemmKernel* k : {table.gemm_nr8, table.gemm_wide})
    for (; k != nullptr && reached.insert(k).second; k = k->tail) {
      if (k->fewer_rows) reached.insert(k->fewer_rows);
      if (k->narrow_indirect) reached.insert(k->narrow_indirect);
    }
  for (const GemmKernel* k : listed) CHECK_MSG(reached.count(k) == 1, "%s: %s is in no path of the table", name, k->name);
  for (const GemmKernel* k : listed)
    CHECK(k->packing == (k->nr == 8 ? GemmPacking::kBf16Quads : k->mr == 16 ? GemmPacking::kBf16Tiles : GemmPacking::kBf16Pairs));
  std::deque<GemmKernel> variants;
  const std::vector<const GemmKernel*> kernels = with_tailless_copies(listed, variants);
  auto is_listed = [&](const GemmKernel* k) { return std::find(listed.begin(), listed.end(), k) != listed.end(); };
  Stats st;
  for (const GemmKernel* kernel : kernels) {
    unsigned seed = 1;
    for (int m : {1, 5, 6, 7, 13, 16, 17, 33})  // the AMX kernel's 16 rows, and more
      for (int k : {1, 2, 3, 7, 8, 9, 16, 17, 27, 33})
        for (int n : {1, 7, 8, 9, 16, 17, 31, 32, 33, 47})
          check(*kernel, reference, exact_required, m, k, n, (m + k + n) % 2 == 0, epilogue(m + n), seed++, &st);
    // Around the kernels' A segments (128 pairs: 256 values), odd and even.
    for (int k : {255, 256, 257, 511, 513})
      check(*kernel, reference, exact_required, 7, k, 40, k % 2 == 1, epilogue(k), seed++, &st);
    // A classifier at batch 1 (long k: the fp32 sums' largest share).
    for (int k : {64, 255, 1280})
      for (int n : {10, 65, 1000})
        if (!test::small_mode() || k * n < 70000) check(*kernel, reference, exact_required, 1, k, n, false, epilogue(0), seed++, &st);
    if (!is_listed(kernel)) continue;
    std::set<std::pair<int, int>> seen;
    const int rows = test::small_mode() ? 3 : 9;
    for (const auto& z : test::kZooModules) {
      if (seen.insert({z.cin, z.c1}).second) check(*kernel, reference, exact_required, rows, z.cin, z.c1, false, epilogue(1), seed++, &st);
      if (seen.insert({z.c1 * z.k, z.c3}).second)
        check(*kernel, reference, exact_required, rows, z.c1 * z.k, z.c3, false, epilogue(1), seed++, &st);
      if (seen.insert({z.c3 + z.cin, z.cout}).second)
        check(*kernel, reference, exact_required, rows, z.c3 + z.cin, z.cout, true, epilogue(1), seed++, &st);
    }
  }
  std::printf("%s: bf16 gemm kernels checked (%zu listed); worst difference from fp32 %.3f u S, %.3f u S sqrt(k) "
              "(u = 2^-8); bit-identical to the instruction model on %ld of %ld outputs\n",
              name, listed.size(), st.worst_us, st.worst_us_sqrtk, st.model_same, st.outputs);
}

[[maybe_unused]] static bool has_avx512_table() {  // unused in a build without AVX-512
  for (const IsaSupport& s : isa_support())
    if (s.isa == Isa::kAvx512) {
      if (!s.available) std::printf("skipped the emulated bf16 kernels: avx512 table not available: %s\n", s.reason.c_str());
      return s.available;
    }
  return false;
}

int main() {
  check_bf16_rounding();
#ifdef ATTOCORE_HAVE_AVX512
  if (has_avx512_table()) {
    check_operations("emulated", bf16_pack_emulated, bf16_dot_emulated, true);
    check_list("bf16emu_avx512", bf16_emulated_kernel_table(), bf16_emulated_kernel_list().gemm, true);
  }
#else
  std::printf("skipped the emulated bf16 kernels: not an x86 build with ATTOCORE_ENABLE_AVX512\n");
#endif
  const Bf16Support support = bf16_support();
  if (!support.available) {
    std::printf("skipped the native bf16 kernels: %s\n", support.reason.c_str());
    std::printf("%d cases\n", cases);
    TEST_MAIN_END();
  }
  const KernelTable& table = bf16_kernel_table(/*allow_amx=*/false);
  CHECK(table.isa == Isa::kAvx512 && table.gemm_wide->packing == GemmPacking::kBf16Pairs);
#ifdef ATTOCORE_HAVE_AVX512BF16
  check_operations("native", bf16_pack_native, bf16_dot_native, false);
#endif
  check_list("avx512bf16", table, bf16_kernel_list().gemm, false);
  const Bf16Support amx = amx_bf16_support();
  if (amx.available) {
    CHECK(bf16_kernel_table().gemm_wide == amx_bf16_kernel_list().gemm.back());
    check_list("amxbf16", bf16_kernel_table(), amx_bf16_kernel_list().gemm, false);
  } else {
    std::printf("skipped the AMX bf16 kernels: %s\n", amx.reason.c_str());
  }
  std::printf("%d cases\n", cases);
  TEST_MAIN_END();
}
