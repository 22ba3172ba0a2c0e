// The activation loops the vector variants share, over the vector traits (kernels/simd/):
// each variant instantiates run<Vec> under its instruction set's flags. exp is Cephes'
// single-precision polynomial on a range reduced by ln 2 (relative error under 2e-7); inputs
// are clamped to [-87.3, 88.4] first, so no lane overflows to inf or NaN: sigmoid and SiLU then
// differ from the reference's std::exp by a few ulp (tests/cpp/test_activation_kernels.cpp).
#pragma once
#include <cmath>
#include <cstddef>

#include "graph/graph.h"

namespace attocore::activation_loops {

template <typename Vec>
typename Vec::V exp(typename Vec::V x) {
  using V = typename Vec::V;
  // x as the second operand: x86's max and min return it when it is NaN, so NaN goes through
  // (NEON's propagate it either way), as the reference's std::exp does.
  x = Vec::min(Vec::set1(88.3762f), Vec::max(Vec::set1(-87.3365f), x));  // 2^-126 .. 2^127.5
  const V n = Vec::floor(Vec::fma(Vec::set1(0.5f), x, Vec::set1(1.44269504088896341f)));
  V r = Vec::fma(x, n, Vec::set1(-0.693359375f));  // x - n ln 2, ln 2 in two parts
  r = Vec::fma(r, n, Vec::set1(2.12194440e-4f));
  V p = Vec::set1(1.9875691500e-4f);
  p = Vec::fma(Vec::set1(1.3981999507e-3f), p, r);
  p = Vec::fma(Vec::set1(8.3334519073e-3f), p, r);
  p = Vec::fma(Vec::set1(4.1665795894e-2f), p, r);
  p = Vec::fma(Vec::set1(1.6666665459e-1f), p, r);
  p = Vec::fma(Vec::set1(5.0000001201e-1f), p, r);
  p = Vec::fma(Vec::add(r, Vec::set1(1.f)), p, Vec::mul(r, r));  // 1 + r + r^2 p
  return Vec::mul(p, Vec::pow2(n));
}

template <typename Vec>
typename Vec::V apply(Activation act, typename Vec::V x) {
  using V = typename Vec::V;
  const V one = Vec::set1(1.f), zero = Vec::zero();
  switch (act) {
    case Activation::kSigmoid: return Vec::div(one, Vec::add(one, exp<Vec>(Vec::sub(zero, x))));
    case Activation::kSilu: return Vec::div(x, Vec::add(one, exp<Vec>(Vec::sub(zero, x))));
    case Activation::kHardSigmoid:
    case Activation::kHardSwish: {  // relu6(x + 3) / 6, PyTorch's hard sigmoid; times x for hard swish
      const V gate = Vec::mul(Vec::min(Vec::set1(6.f), Vec::max(zero, Vec::add(x, Vec::set1(3.f)))),
                              Vec::set1(1.f / 6.f));  // NaN-propagating operand order, as in exp
      return act == Activation::kHardSwish ? Vec::mul(x, gate) : gate;
    }
    case Activation::kRelu: return Vec::max(x, zero);
    case Activation::kRelu6: return Vec::min(Vec::max(x, zero), Vec::set1(6.f));
    case Activation::kNone:
    case Activation::kTanh: break;  // run() takes it per float
  }
  return x;
}

// y[i] = act(x[i]) for i < n (y may alias x): whole vectors, then one partial vector. Tanh,
// rare in the CNNs served (a few heads), is std::tanh per float: a vector form through exp
// would lose tanh's relative accuracy near 0, where 1 - 2 / (exp(2x) + 1) cancels.
template <typename Vec>
void run(Activation act, const float* x, float* y, size_t n) {
  if (act == Activation::kTanh) {
    for (size_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
    return;
  }
  constexpr size_t kLanes = Vec::kLanes;
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) Vec::store(y + i, apply<Vec>(act, Vec::load(x + i)));
  if (i < n) {
    const auto tail = Vec::first(int(n - i));
    Vec::store_first(y + i, tail, apply<Vec>(act, Vec::load_first(x + i, tail)));
  }
}

}  // namespace attocore::activation_loops
