// The binary16 arithmetic the fp16 kernel testers model (test_fp16_kernels.cpp,
// test_fp16_dwconv_kernels.cpp), in double: rounding to binary16 and a half's value.
#pragma once
#include <cmath>
#include <cstdint>

namespace test {

// x rounded to the nearest binary16 (ties to even; past 65504 to infinity), in double.
inline double round_half(double x) {
  if (x == 0 || !std::isfinite(x)) return x;
  int e;
  std::frexp(x, &e);
  int lead = e - 1;            // exponent of x's leading bit
  if (lead < -14) lead = -14;  // the subnormal grid: 2^-24
  const double ulp = std::ldexp(1.0, lead - 10);
  const double r = std::nearbyint(x / ulp) * ulp;
  return std::fabs(r) > 65504 ? std::copysign(INFINITY, x) : r;
}

inline double half_bits_value(uint16_t h) {
  const int e = (h >> 10) & 31, m = h & 1023;
  const double v = e == 0 ? std::ldexp(double(m), -24) : e == 31 ? (m ? NAN : INFINITY) : std::ldexp(1024.0 + m, e - 25);
  return h & 0x8000 ? -v : v;
}

}  // namespace test
