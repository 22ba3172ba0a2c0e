// Int8 kernels never read past their input (qgemm.h: no variant reads past a row's k bytes
// of A; qdwconv.h: none past the end of the input). The testers' guard bytes catch writes
// past the output, not reads, and a read a few bytes past a heap block never faults. Here
// every runnable variant gets inputs that end exactly where an inaccessible page starts, so
// such a read kills the test (SIGSEGV); the results are compared with the reference too.
// Random shapes: GEMMs with lda > k and every k tail, depthwise layers with multipliers 1-5,
// kernels 1/3/5, strides 1-2 and asymmetric padding.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "int8_harness.h"
#include "kernels/dispatch/qkernel_table.h"
#include "test_harness.h"

using namespace attocore;

namespace {

unsigned state = 2026;
int rnd(int lo, int hi) {
  state = state * 1664525u + 1013904223u;
  return lo + int((state >> 8) % unsigned(hi - lo + 1));
}

// n bytes ending where a PROT_NONE page begins (released at exit: a test process).
int8_t* before_guard_page(size_t n) {
  const size_t page = size_t(sysconf(_SC_PAGESIZE)), pages = (n + page - 1) / page + 1;
  void* m = mmap(nullptr, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(m != MAP_FAILED);
  char* guard = static_cast<char*>(m) + (pages - 1) * page;
  CHECK(mprotect(guard, page, PROT_NONE) == 0);
  return reinterpret_cast<int8_t*>(guard - n);
}

int gemm_cases(const std::vector<const QGemmKernel*>& kernels) {
  int cases = 0;
  for (int it = 0; it < 120; ++it) {
    const int m = rnd(1, 11), n = rnd(1, 37), k = rnd(1, 70), lda = k + rnd(0, 5) * (it % 2);
    const size_t a_bytes = size_t(m - 1) * lda + k;  // the last row's k bytes end at the page
    int8_t* a = before_guard_page(a_bytes);
    for (size_t i = 0; i < a_bytes; ++i) a[i] = int8_t(rnd(-128, 127));
    std::vector<int8_t> w(size_t(n) * k);
    for (int8_t& v : w) v = int8_t(rnd(-127, 127));
    std::vector<int32_t> bias(n);
    for (int32_t& v : bias) v = rnd(-50000, 50000);
    const std::vector<float> mult = test::multipliers(n, k, unsigned(it));
    const QuantEpilogue ep = test::epilogue_for(unsigned(it));
    const int32_t a_zp = rnd(-128, 127);
    std::vector<int8_t> want(size_t(m) * n);
    const PackedQGemm ref = qgemm_ref_pack(n, k, w.data(), bias.data(), mult.data(), a_zp);
    qgemm_ref(QGemmArgs{&ref, a, size_t(lda), want.data(), size_t(n), m, ep});
    for (const QGemmKernel* kern : kernels) {
      const PackedQGemm p = kern->pack(n, k, w.data(), bias.data(), mult.data(), a_zp);
      std::vector<int8_t> got(size_t(m) * n);
      kern->fn(QGemmArgs{&p, a, size_t(lda), got.data(), size_t(n), m, ep});
      ++cases;
      CHECK_MSG(got == want, "%s: m=%d n=%d k=%d lda=%d differs from the reference", kern->name, m, n, k, lda);
    }
  }
  return cases;
}

int dwconv_cases(const std::vector<const QDwconvKernel*>& kernels) {
  int cases = 0;
  for (int it = 0; it < 120; ++it) {
    DwconvShape s;
    WindowAttrs& win = s.window;
    s.batch = rnd(1, 2), s.in_h = rnd(1, 9), s.in_w = rnd(1, 9), s.in_c = rnd(1, 19), s.multiplier = rnd(1, 5);
    s.out_c = s.in_c * s.multiplier;
    win.kernel_h = win.kernel_w = 1 + 2 * rnd(0, 2);
    win.stride_h = win.stride_w = rnd(1, 2);
    win.pad_top = rnd(0, 2), win.pad_left = rnd(0, 2), win.pad_bottom = rnd(0, 2), win.pad_right = rnd(0, 2);
    win.groups = s.in_c;
    s.out_h = (s.in_h + win.pad_top + win.pad_bottom - win.kernel_h) / win.stride_h + 1;
    s.out_w = (s.in_w + win.pad_left + win.pad_right - win.kernel_w) / win.stride_w + 1;
    if (s.in_h + win.pad_top + win.pad_bottom < win.kernel_h || s.in_w + win.pad_left + win.pad_right < win.kernel_w)
      continue;
    const int taps = win.kernel_h * win.kernel_w;
    const size_t in_bytes = size_t(s.batch) * s.in_h * s.in_w * s.in_c;
    int8_t* x = before_guard_page(in_bytes);
    for (size_t i = 0; i < in_bytes; ++i) x[i] = int8_t(rnd(-128, 127));
    std::vector<int8_t> w(size_t(s.out_c) * taps);
    for (int8_t& v : w) v = int8_t(rnd(-127, 127));
    std::vector<int32_t> bias(s.out_c);
    for (int32_t& v : bias) v = rnd(-5000, 5000);
    const std::vector<float> mult = test::multipliers(s.out_c, taps, unsigned(it));
    const QuantEpilogue ep = test::epilogue_for(unsigned(it));
    const int32_t x_zp = rnd(-128, 127);
    const size_t out_n = size_t(s.batch) * s.out_h * s.out_w * s.out_c;
    const int rows = s.batch * s.out_h;
    std::vector<uint8_t> scratch(qdwconv_scratch_bytes(s));
    std::vector<int8_t> want(out_n);
    const PackedQDwconv ref = qdwconv_ref_pack(s, w.data(), bias.data(), mult.data(), x_zp);
    qdwconv_ref(QDwconvArgs{&s, &ref, x, want.data(), ep, 0, rows, scratch.data()});
    for (const QDwconvKernel* kern : kernels) {
      const PackedQDwconv p = kern->pack(s, w.data(), bias.data(), mult.data(), x_zp);
      std::vector<int8_t> got(out_n);
      kern->fn(QDwconvArgs{&s, &p, x, got.data(), ep, 0, rows, scratch.data()});
      ++cases;
      CHECK_MSG(got == want, "%s: n=%d %dx%d c=%d k=%d %dx%d s=%d pads %d %d %d %d differs from the reference", kern->name,
                s.batch, s.in_h, s.in_w, s.in_c, s.multiplier, win.kernel_h, win.kernel_w, win.stride_h, win.pad_top,
                win.pad_left, win.pad_bottom, win.pad_right);
    }
  }
  return cases;
}

}  // namespace

int main() {
  const auto gemms = runnable_qgemm_kernels();
  const auto dwconvs = runnable_qdwconv_kernels();
  for (const QGemmKernel* k : gemms) std::printf("checking %s\n", k->name);
  for (const QDwconvKernel* k : dwconvs) std::printf("checking %s\n", k->name);
  const int g = gemm_cases(gemms), d = dwconv_cases(dwconvs);
  std::printf("%d gemm and %d depthwise cases, inputs against a guard page\n", g, d);
  TEST_MAIN_END();
}
