// Shared by the int8 kernel testers: deterministic int8/int32 data and epilogues.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/quant/requantize.h"

namespace test {

// Uniform in [lo, hi] from a tiny LCG (the same values on every platform).
template <typename T>
inline void fill_int(std::vector<T>& v, unsigned seed, int64_t lo, int64_t hi) {
  unsigned x = seed * 2654435761u + 7;
  const uint64_t span = uint64_t(hi - lo + 1);
  for (T& t : v) {
    x = x * 1664525u + 1013904223u;
    t = T(lo + int64_t(((uint64_t(x >> 4) * 2654435761ull) >> 8) % span));
  }
}

// Multipliers that spread the sums of a k-deep reduction over the int8 range (some large
// enough to saturate), as calibration gives them: about 1 / (60 * sqrt(k)) with a 4x spread.
inline std::vector<float> multipliers(int n, int k, unsigned seed) {
  std::vector<float> m(n);
  std::vector<int> r(n);
  fill_int(r, seed, 0, 1000);
  float base = 1.0f / (60.0f * float(k > 0 ? k : 1));
  for (int i = 0; i < n; ++i) m[i] = base * (0.5f + 2.0f * float(r[i]) / 1000.0f) * 8.0f;
  return m;
}

// The epilogues the testers cycle through: none, ReLU at the zero point, ReLU6-like, and a
// narrow band, each with its own output zero point.
inline attocore::QuantEpilogue epilogue_for(unsigned i) {
  attocore::QuantEpilogue ep;
  ep.zero_point = int32_t(i * 37 % 61) - 30;
  switch (i % 4) {
    case 0: break;
    case 1: ep.lo = ep.zero_point; break;
    case 2: ep.lo = ep.zero_point, ep.hi = ep.zero_point + 70 > 127 ? 127 : ep.zero_point + 70; break;
    default: ep.lo = -20, ep.hi = 33; break;
  }
  return ep;
}

}  // namespace test
