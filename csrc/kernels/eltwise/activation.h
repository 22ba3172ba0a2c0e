// Activation applied in the epilogue of every kernel (fused, never a separate pass).
#pragma once
#include <algorithm>
#include <cstddef>

#include "graph/graph.h"

namespace attocore {

inline float activate(Activation act, float v) {
  switch (act) {
    case Activation::kRelu: return v > 0.f ? v : 0.f;
    case Activation::kRelu6: return std::min(std::max(v, 0.f), 6.f);
    case Activation::kNone: break;
  }
  return v;
}

// In-place activation over n floats.
void activation_ref(Activation act, float* data, size_t n);

// out = act(a + b) over n floats (out may alias a or b).
void add_ref(const float* a, const float* b, size_t n, Activation act, float* out);

}  // namespace attocore
