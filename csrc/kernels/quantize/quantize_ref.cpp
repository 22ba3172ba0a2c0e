// The portable quantize: the definition (quantize.h), one element at a time.
#include "kernels/quant/requantize.h"
#include "kernels/quantize/quantize.h"

namespace attocore {

void quantize_ref(const float* x, int8_t* y, size_t n, float scale, int32_t zero_point) {
  const float lo = float(-128 - zero_point), hi = float(127 - zero_point);
  for (size_t i = 0; i < n; ++i) {
    float v = x[i] / scale;
    v = v > lo ? v : lo;
    v = v < hi ? v : hi;
    y[i] = int8_t(round_half_even(v) + zero_point);
  }
}

}  // namespace attocore
