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

// The same walk with c's index carried along (h, w, ch), no division past the first element.
template <typename Op>
void apply_strided(const float* x, const float* c, const ConstStrides& s, float* y, size_t i0, size_t i1, Op op) {
  const size_t image = s.height * s.width * s.channels;
  size_t in_image = i0 % image, ch = in_image % s.channels, pixel = in_image / s.channels;
  size_t w = pixel % s.width, h = pixel / s.width;
  size_t j = h * s.sh + w * s.sw + ch * s.sc;
  for (size_t i = i0; i < i1; ++i) {
    y[i] = op(x[i], c[j]);
    if (++ch < s.channels) { j += s.sc; continue; }
    ch = 0;
    if (++w < s.width) { j = h * s.sh + w * s.sw; continue; }
    w = 0;
    if (++h == s.height) h = 0;
    j = h * s.sh;
  }
}

template <typename Walk>
void dispatch(EltwiseKind kind, bool swap, Walk walk) {
  switch (kind) {
    case EltwiseKind::kAdd: return walk([](float a, float b) { return a + b; });
    case EltwiseKind::kMul: return walk([](float a, float b) { return a * b; });
    case EltwiseKind::kSub:
      if (swap) return walk([](float a, float b) { return b - a; });
      return walk([](float a, float b) { return a - b; });
    case EltwiseKind::kDiv:
      if (swap) return walk([](float a, float b) { return b / a; });
      return walk([](float a, float b) { return a / b; });
  }
}

}  // namespace

void eltwise_const_strided(const float* x, const float* c, const ConstStrides& s, EltwiseKind kind, bool swap,
                           float* y, size_t i0, size_t i1) {
  dispatch(kind, swap, [&](auto op) { apply_strided(x, c, s, y, i0, i1, op); });
}

void eltwise_const(const float* x, const float* c, size_t period, EltwiseKind kind, bool swap, float* y, size_t i0,
                   size_t i1) {
  dispatch(kind, swap, [&](auto op) { apply(x, c, period, y, i0, i1, op); });
}

}  // namespace attocore
