// Quantize tester: the reference against the definition (a double-checked division, the
// clamp, round half to even), then every listed variant this CPU runs
// (quantize_kernels.inc) against the reference, byte for byte: every length from 0 to 70
// (each vector tail), long runs, values at and between the rounding ties, beyond the int8
// range, infinities, NaN (the lower bound), -0, denormals, and scales from tiny to huge.
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "int8_harness.h"
#include "kernels/dispatch/qkernel_table.h"
#include "test_harness.h"

using namespace attocore;

static int cases = 0;

static void check(const std::vector<float>& x, float scale, int zp) {
  const size_t n = x.size();
  std::vector<int8_t> want(n);
  const float lo = float(-128 - zp), hi = float(127 - zp);
  for (size_t i = 0; i < n; ++i) {
    float v = x[i] / scale;
    v = v > lo ? v : lo;
    v = v < hi ? v : hi;
    want[i] = int8_t(int(std::nearbyint(v)) + zp);
  }
  for (const QuantizeKernel* k : runnable_quantize_kernels()) {
    std::vector<int8_t> got(n + 8, int8_t(0x5A));
    k->fn(x.data(), got.data(), n, scale, zp);
    ++cases;
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; ++i)
      if (got[i] != want[i] && bad++ == 0) first = i;
    CHECK_MSG(bad == 0, "%s: n=%zu scale=%g zp=%d: %zu outputs differ (first: x=%g got %d want %d)", k->name, n, scale,
              zp, bad, bad ? double(x[first]) : 0.0, bad ? got[first] : 0, bad ? want[first] : 0);
    for (size_t i = n; i < n + 8; ++i) CHECK_MSG(got[i] == 0x5A, "%s wrote past its output", k->name);
  }
}

static std::vector<float> values(size_t n, unsigned seed, float spread) {
  std::vector<int> r(n);
  test::fill_int(r, seed, -1000000, 1000000);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = float(r[i]) * 1e-6f * spread;
  return x;
}

int main() {
  std::vector<std::string> skipped;
  for (const QuantizeKernel* k : runnable_quantize_kernels(&skipped)) std::printf("checking %s\n", k->name);
  for (const std::string& s : skipped) std::printf("skipped %s\n", s.c_str());
  unsigned seed = 1;
  for (size_t n = 0; n <= 70; ++n) check(values(n, seed++, 3.0f), 0.02f, int(n % 41) - 20);
  for (float scale : {1e-30f, 1e-6f, 0.0173f, 1.0f, 3.7f, 1e30f})
    for (int zp : {-128, -3, 0, 127}) check(values(1000 + seed % 17, seed++, 5.0f), scale, zp);
  check(values(100000, seed++, 2.0f), 0.01f, 5);
  // Ties and near-ties: k + 0.5 (and its float neighbours) times the scale, both signs.
  std::vector<float> ties;
  for (int k = -140; k <= 140; ++k) {
    const float t = (float(k) + 0.5f) * 0.25f;
    ties.push_back(t);
    ties.push_back(std::nextafter(t, 1e9f));
    ties.push_back(std::nextafter(t, -1e9f));
  }
  check(ties, 0.25f, 0);
  check(ties, 0.25f, -7);
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> odd = {inf, -inf, nan, -nan, 0.0f, -0.0f, 1e-45f, -1e-45f, 1e-38f, 3e38f, -3e38f, 255.0f, -255.0f};
  for (int rep = 0; rep < 3; ++rep) odd.insert(odd.end(), odd.begin(), odd.begin() + 13);  // past one vector
  check(odd, 0.5f, 0);
  check(odd, 1e-20f, 100);
  std::printf("%d cases\n", cases);
  TEST_MAIN_END();
}
