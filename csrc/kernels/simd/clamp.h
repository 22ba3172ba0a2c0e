// The activation clamp of a kernel's epilogue, on any vector traits (simd/vec_*.h).
#pragma once
#include "graph/graph.h"

namespace attocore {
namespace {

template <class Vec>
struct VecClamp {
  using V = typename Vec::V;
  V lo, hi;
  bool low, high;  // whether the bound applies (lo = -inf, hi = +inf would leave y unchanged anyway)
  explicit VecClamp(Activation act)
      : lo(Vec::set1(act == Activation::kNone ? -__builtin_inff() : 0.f)),
        hi(Vec::set1(act == Activation::kRelu6 ? 6.f : __builtin_inff())),
        low(act != Activation::kNone),
        high(act == Activation::kRelu6) {}
  // The tile kernels' form: only the bounds that apply.
  V operator()(V y) const {
    if (low) y = Vec::max(y, lo);
    if (high) y = Vec::min(y, hi);
    return y;
  }
};

}  // namespace
}  // namespace attocore
