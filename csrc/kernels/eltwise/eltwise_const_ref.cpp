#include "kernels/eltwise/eltwise_const_ref.h"

namespace attocore {
namespace {

template <typename Op>
void apply(const float* x, const float* c, size_t period, float* y, size_t i0, size_t i1, Op op) {
  size_t j = i0 % period;
  for (size_t i = i0; i < i1; ++i) {
    y[i] = op(x[i], c[j]);
    if (++j == period) j = 0;
  }
}

}  // namespace

void eltwise_const(const float* x, const float* c, size_t period, EltwiseKind kind, bool swap, float* y, size_t i0,
                   size_t i1) {
  switch (kind) {
    case EltwiseKind::kAdd: return apply(x, c, period, y, i0, i1, [](float a, float b) { return a + b; });
    case EltwiseKind::kMul: return apply(x, c, period, y, i0, i1, [](float a, float b) { return a * b; });
    case EltwiseKind::kSub:
      if (swap) return apply(x, c, period, y, i0, i1, [](float a, float b) { return b - a; });
      return apply(x, c, period, y, i0, i1, [](float a, float b) { return a - b; });
    case EltwiseKind::kDiv:
      if (swap) return apply(x, c, period, y, i0, i1, [](float a, float b) { return b / a; });
      return apply(x, c, period, y, i0, i1, [](float a, float b) { return a / b; });
  }
}

}  // namespace attocore
