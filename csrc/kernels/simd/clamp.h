// An Epilogue's clamp (kernels/epilogue.h) on any vector traits (simd/vec_*.h).
#pragma once
#include "kernels/epilogue.h"

namespace attocore {
namespace {

template <class Vec>
struct VecClamp {
  using V = typename Vec::V;
  V lo, hi;
  bool low, high;  // whether the bound applies (lo = -inf, hi = +inf would leave y unchanged anyway)
  explicit VecClamp(const Epilogue& ep)
      : lo(Vec::set1(ep.min)), hi(Vec::set1(ep.max)), low(ep.clamps_min()), high(ep.clamps_max()) {}
  // The tile kernels' form: only the bounds that apply.
  V operator()(V y) const {
    if (low) y = Vec::max(y, lo);
    if (high) y = Vec::min(y, hi);
    return y;
  }
};

}  // namespace
}  // namespace attocore
