// The portable int8 add: the definition (qadd.h), one element at a time.
#include "kernels/qadd/qadd.h"

namespace attocore {

void qadd_ref(const int8_t* a, const int8_t* b, int8_t* y, size_t n, const QAddParams& p) {
  const float lo = float(p.ep.lo - p.ep.zero_point), hi = float(p.ep.hi - p.ep.zero_point);
  for (size_t i = 0; i < n; ++i) {
    float v = float(int32_t(a[i]) - p.za) * p.ma + float(int32_t(b[i]) - p.zb) * p.mb;
    v = v > lo ? v : lo;
    v = v < hi ? v : hi;
    y[i] = int8_t(round_half_even(v) + p.ep.zero_point);
  }
}

}  // namespace attocore
