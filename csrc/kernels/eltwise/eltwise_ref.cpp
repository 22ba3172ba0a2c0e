#include "kernels/eltwise/activation.h"

namespace attocore {

void add_ref(const float* a, const float* b, size_t n, Activation act, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = activate(act, a[i] + b[i]);
}

void scale_channels_ref(const float* x, const float* s, size_t pixels, size_t channels, Activation act, float* out) {
  for (size_t p = 0; p < pixels; ++p)
    for (size_t c = 0; c < channels; ++c) out[p * channels + c] = activate(act, x[p * channels + c] * s[c]);
}

void mul_ref(const float* a, const float* b, size_t n, Activation act, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = activate(act, a[i] * b[i]);
}

}  // namespace attocore
