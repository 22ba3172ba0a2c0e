// Int8 add tester: the reference against the definition written out in double-checked fp32
// steps, then every listed variant this CPU runs (qadd_kernels.inc) against the reference,
// bit for bit, on every length from 0 to 70 (each vector tail), long runs, in place
// (y = a), the extremes of int8, and multipliers from tiny to large.
#include <cstdio>
#include <string>
#include <vector>

#include "int8_harness.h"
#include "kernels/dispatch/qkernel_table.h"
#include "test_harness.h"

using namespace attocore;

static int cases = 0;

static void check(size_t n, unsigned seed, float ma, float mb, int lo = -128, int hi = 127) {
  std::vector<int8_t> a(n + 1), b(n + 1);
  std::vector<int> zp(3);
  test::fill_int(a, seed, lo, hi);
  test::fill_int(b, seed + 1, lo, hi);
  test::fill_int(zp, seed + 2, -128, 127);
  QAddParams p;
  p.ma = ma, p.mb = mb, p.za = zp[0], p.zb = zp[1];
  p.ep = test::epilogue_for(seed);
  std::vector<int8_t> want(n);
  for (size_t i = 0; i < n; ++i) {
    const float pa = float(a[i] - p.za) * ma, pb = float(b[i] - p.zb) * mb;
    float v = pa + pb;
    const float l = float(p.ep.lo - p.ep.zero_point), h = float(p.ep.hi - p.ep.zero_point);
    v = v < l ? l : v > h ? h : v;
    want[i] = int8_t(int(__builtin_nearbyintf(v)) + p.ep.zero_point);
  }
  for (const QAddKernel* k : runnable_qadd_kernels()) {
    std::vector<int8_t> got(n + 8, int8_t(0x5A));
    k->fn(a.data(), b.data(), got.data(), n, p);
    std::vector<int8_t> in_place(a.begin(), a.begin() + n);
    k->fn(in_place.data(), b.data(), in_place.data(), n, p);
    ++cases;
    size_t bad = 0;
    for (size_t i = 0; i < n; ++i) bad += got[i] != want[i] || in_place[i] != want[i];
    CHECK_MSG(bad == 0, "%s: n=%zu ma=%g mb=%g: %zu outputs differ", k->name, n, ma, mb, bad);
    for (size_t i = n; i < n + 8; ++i) CHECK_MSG(got[i] == 0x5A, "%s wrote past its output", k->name);
  }
}

int main() {
  std::vector<std::string> skipped;
  for (const QAddKernel* k : runnable_qadd_kernels(&skipped)) std::printf("checking %s\n", k->name);
  for (const std::string& s : skipped) std::printf("skipped %s\n", s.c_str());
  unsigned seed = 1;
  for (size_t n = 0; n <= 70; ++n) check(n, seed++, 0.7f, 0.45f);
  for (float ma : {1e-6f, 0.01f, 0.3f, 1.0f, 3.7f, 250.0f})
    for (float mb : {1e-6f, 0.5f, 2.0f}) check(1000 + seed % 17, seed++, ma, mb);
  check(100000, seed++, 0.8f, 0.9f);
  check(333, seed++, 1.3f, 1.1f, -128, -128);
  check(333, seed++, 1.3f, 1.1f, 127, 127);
  std::printf("%d cases\n", cases);
  TEST_MAIN_END();
}
