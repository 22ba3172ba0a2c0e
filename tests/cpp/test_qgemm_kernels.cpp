// Int8 GEMM tester: the reference against the definition (int64 sums, qgemm.h), then every
// listed variant this CPU runs (qgemm_kernels.inc) against the reference, bit for bit, on
// edge shapes (every n and k up to 33 and past each vector width, one-row and odd-row
// blocks, the largest reduction the loader allows at the extremes of int8) and on every 1x1
// layer of the four nets. Variants this CPU cannot run are listed with the reason.
#include <cstdio>
#include <string>
#include <vector>

#include "int8_harness.h"
#include "kernels/dispatch/qkernel_table.h"
#include "test_harness.h"
#include "zoo_shapes.h"

using namespace attocore;

static int cases = 0;

static void check(int m, int n, int k, unsigned seed, int a_lo = -128, int a_hi = 127, int w_lo = -127,
                  int w_hi = 127) {
  // Rows of A lda apart, as a strided 1x1 convolution reads them (every other pixel).
  const size_t lda = size_t(k) + (seed % 3) * 7;
  std::vector<int8_t> a(size_t(m) * lda), w(size_t(n) * k);
  std::vector<int32_t> bias(n);
  std::vector<int> zp(1);
  test::fill_int(a, seed, a_lo, a_hi);
  test::fill_int(w, seed + 1, w_lo, w_hi);
  test::fill_int(bias, seed + 2, -(1 << 16), 1 << 16);
  test::fill_int(zp, seed + 3, -128, 127);
  const std::vector<float> mult = test::multipliers(n, k, seed + 4);
  const QuantEpilogue ep = test::epilogue_for(seed);
  const int32_t a_zp = zp[0];

  // The definition, with 64-bit sums so that no overflow can hide in it.
  std::vector<int8_t> want(size_t(m) * n);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      int64_t acc = bias[j];
      for (int t = 0; t < k; ++t) acc += int64_t(a[size_t(i) * lda + t] - a_zp) * w[size_t(j) * k + t];
      CHECK(acc >= INT32_MIN && acc <= INT32_MAX);
      want[size_t(i) * n + j] = requantize(int32_t(acc), mult[j], ep);
    }

  for (const QGemmKernel* kern : runnable_qgemm_kernels()) {
    PackedQGemm p = kern->pack(n, k, w.data(), bias.data(), mult.data(), a_zp);
    // Rows ldc + 3 apart with guard bytes, and split in two calls as two threads would.
    const size_t ldc = size_t(n) + 3;
    std::vector<int8_t> got(size_t(m) * ldc + 8, int8_t(0x5A));
    const int mid = m / 2;
    kern->fn(QGemmArgs{&p, a.data(), lda, got.data(), ldc, mid, ep});
    kern->fn(QGemmArgs{&p, a.data() + size_t(mid) * lda, lda, got.data() + size_t(mid) * ldc, ldc, m - mid, ep});
    ++cases;
    int bad = 0;
    for (int i = 0; i < m; ++i) {
      for (int j = 0; j < n; ++j)
        if (got[size_t(i) * ldc + j] != want[size_t(i) * n + j] && bad++ == 0)
          std::fprintf(stderr, "%s: m=%d n=%d k=%d zp=%d: [%d][%d] = %d, want %d\n", kern->name, m, n, k, a_zp, i, j,
                       got[size_t(i) * ldc + j], want[size_t(i) * n + j]);
      for (size_t j = size_t(n); j < ldc; ++j) CHECK_MSG(got[size_t(i) * ldc + j] == 0x5A, "%s wrote past a row", kern->name);
    }
    CHECK_MSG(bad == 0, "%s: m=%d n=%d k=%d: %d outputs differ", kern->name, m, n, k, bad);
  }
}

int main() {
  std::vector<std::string> skipped;
  const auto kernels = runnable_qgemm_kernels(&skipped);
  for (const std::string& s : skipped) std::printf("skipped %s\n", s.c_str());
  for (const QGemmKernel* k : kernels) std::printf("checking %s\n", k->name);

  // round_half_even is nearest-even on every value a requantization can meet.
  for (int i = -255 * 4; i <= 255 * 4; ++i) {
    const float y = float(i) / 4.0f;
    const float r = float(round_half_even(y));
    CHECK_MSG(r == __builtin_nearbyintf(y), "round_half_even(%g) = %g", y, r);
  }

  unsigned seed = 1;
  for (int n = 1; n <= 33; ++n)
    for (int k : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33}) check(1 + (n + k) % 7, n, k, seed++);
  for (int n : {47, 48, 49, 63, 64, 65, 96, 127, 128, 129})
    for (int k : {60, 64, 65, 127, 128, 129, 255, 256, 300}) check(5, n, k, seed++);
  for (int m : {1, 2, 3, 6, 7, 13, 31}) check(m, 40, 24, seed++);
  // Saturation: sums at the extremes (A at -128 or 127, W at +-127) over the loader's largest
  // reduction, where a 16-bit pair sum (vpmaddubsw) would saturate and an int32 one must not.
  check(3, 17, int(kMaxInt8Reduction), seed++, -128, -128, 127, 127);
  check(3, 17, int(kMaxInt8Reduction), seed++, 127, 127, -127, -127);
  check(4, 9, 4096, seed++, 127, 127, 127, 127);
  check(4, 9, 4096, seed++, -128, 127, -127, 127);
  for (const auto& z : test::kZooModules) {
    const int hw = test::spatial(z.hw), pixels = hw * hw;
    check(pixels, z.c1, z.cin, seed++);            // compression
    check(pixels, z.c3, z.c1 * z.k, seed++);       // first of the back-to-back 1x1 pair
    check(pixels, z.cout, z.c3, seed++);           // expansion
  }
  std::printf("%d cases (%s mode)\n", cases, test::small_mode() ? "small" : "full");
  TEST_MAIN_END();
}
