#include "kernels/peak/peak.h"

#include <chrono>

#include "kernels/dispatch/kernel_table.h"

namespace attocore {
namespace {

double fma_peak_scalar(long iterations) {
  float a[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  for (long i = 0; i < iterations; ++i)
    for (float& x : a) x = x * 0.999999f + 1e-7f;
  volatile float sink = a[0] + a[7];
  (void)sink;
  return double(iterations) * 8;
}

}  // namespace

double measure_fma_peak_gmacs(double seconds) {
  const Isa isa = best_isa();
  auto run = [&](long n) {
#ifdef ATTOCORE_HAVE_AVX2
    if (isa == Isa::kAvx2) return fma_peak_avx2(n);
#endif
#ifdef ATTOCORE_HAVE_AVX512
    if (isa == Isa::kAvx512) return fma_peak_avx512(n);
#endif
#ifdef ATTOCORE_HAVE_NEON
    if (isa == Isa::kNeon) return fma_peak_neon(n);
#endif
    (void)isa;
    return fma_peak_scalar(n);
  };
  run(100000);  // warm up the core's clock
  long n = 1 << 20;
  for (;;) {
    const auto t0 = std::chrono::steady_clock::now();
    const double macs = run(n);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (dt >= seconds) return macs / dt / 1e9;
    n *= 2;
  }
}

}  // namespace attocore
