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

void prelu_ref(const float* x, const float* slopes, size_t pixels, size_t channels, bool per_channel, Activation act,
               float* out) {
  for (size_t p = 0; p < pixels; ++p)
    for (size_t c = 0; c < channels; ++c) {
      const float v = x[p * channels + c], slope = slopes[per_channel ? c : 0];
      out[p * channels + c] = activate(act, v < 0.f ? v * slope : v);
    }
}

void clip_ref(const float* x, size_t n, float low, float high, Activation act, float* out) {
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i] < low ? low : x[i];  // NaN goes through, as in numpy's clip
    out[i] = activate(act, v > high ? high : v);
  }
}

}  // namespace attocore
