// A graph activation on one float: the clamps as the epilogues apply them, and the smooth ones
// (sigmoid, PyTorch's hard sigmoid relu6(x + 3) / 6, hard swish, SiLU, tanh) of the activation op.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "graph/graph.h"

namespace attocore {

inline float activate(Activation act, float v) {
  switch (act) {
    case Activation::kRelu: return v > 0.f ? v : 0.f;
    case Activation::kRelu6: return std::min(std::max(v, 0.f), 6.f);
    case Activation::kSigmoid: return 1.f / (1.f + std::exp(-v));
    case Activation::kHardSigmoid: return std::min(std::max(v + 3.f, 0.f), 6.f) / 6.f;
    case Activation::kHardSwish: return v * (std::min(std::max(v + 3.f, 0.f), 6.f) / 6.f);
    case Activation::kSilu: return v / (1.f + std::exp(-v));
    case Activation::kTanh: return std::tanh(v);
    case Activation::kNone: break;
  }
  return v;
}

// out = act(a + b) over n floats (out may alias a or b).
void add_ref(const float* a, const float* b, size_t n, Activation act, float* out);

// out[p, c] = act(x[p, c] * s[c]) over `pixels` rows of `channels` floats (NHWC; out may alias x).
void scale_channels_ref(const float* x, const float* s, size_t pixels, size_t channels, Activation act, float* out);

// out = act(a * b) over n floats (out may alias a or b).
void mul_ref(const float* a, const float* b, size_t n, Activation act, float* out);

// PReLU / LeakyReLU: out[p, c] = act(x < 0 ? x * slope : x), slope slopes[c] (per_channel) or
// slopes[0], over `pixels` rows of `channels` floats (NHWC; out may alias x).
void prelu_ref(const float* x, const float* slopes, size_t pixels, size_t channels, bool per_channel, Activation act,
               float* out);

// out = act(min(max(x, low), high)) as ONNX's Clip (low > high gives high), over n floats.
void clip_ref(const float* x, size_t n, float low, float high, Activation act, float* out);

}  // namespace attocore
