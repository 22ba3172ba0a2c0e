// The elementwise ops, with the activation chosen once per call (not per float), so the
// compiler vectorises each loop; every activation is activate()'s own formula.
#include "kernels/eltwise/activation.h"

namespace attocore {
namespace {

// body(clamp) with clamp one of the clamps as a lambda; the smooth activations (which only
// an activation op carries: format/validate.cpp) per float through activate().
template <typename Body>
void with_activation(Activation act, const Body& body) {
  switch (act) {
    case Activation::kNone: return body([](float v) { return v; });
    case Activation::kRelu: return body([](float v) { return v > 0.f ? v : 0.f; });
    case Activation::kRelu6: return body([](float v) { return std::min(std::max(v, 0.f), 6.f); });
    default: return body([act](float v) { return activate(act, v); });
  }
}

}  // namespace

void add_ref(const float* a, const float* b, size_t n, Activation act, float* out) {
  with_activation(act, [&](auto f) {
    for (size_t i = 0; i < n; ++i) out[i] = f(a[i] + b[i]);
  });
}

void scale_channels_ref(const float* x, const float* s, size_t pixels, size_t channels, Activation act, float* out) {
  with_activation(act, [&](auto f) {
    for (size_t p = 0; p < pixels; ++p) {
      const float* xp = x + p * channels;
      float* op = out + p * channels;
      for (size_t c = 0; c < channels; ++c) op[c] = f(xp[c] * s[c]);
    }
  });
}

void mul_ref(const float* a, const float* b, size_t n, Activation act, float* out) {
  with_activation(act, [&](auto f) {
    for (size_t i = 0; i < n; ++i) out[i] = f(a[i] * b[i]);
  });
}

void prelu_ref(const float* x, const float* slopes, size_t pixels, size_t channels, bool per_channel, Activation act,
               float* out) {
  with_activation(act, [&](auto f) {
    for (size_t p = 0; p < pixels; ++p)
      for (size_t c = 0; c < channels; ++c) {
        const float v = x[p * channels + c], slope = slopes[per_channel ? c : 0];
        out[p * channels + c] = f(v < 0.f ? v * slope : v);
      }
  });
}

void clip_ref(const float* x, size_t n, float low, float high, Activation act, float* out) {
  with_activation(act, [&](auto f) {
    for (size_t i = 0; i < n; ++i) {
      const float v = x[i] < low ? low : x[i];  // NaN goes through, as in numpy's clip
      out[i] = f(v > high ? high : v);
    }
  });
}

}  // namespace attocore
