// An elementwise vector loop's tail without masked loads and stores (AVX2, NEON): whole steps
// of kStep elements on the caller's arrays, then the last n % kStep through zero-filled stack
// copies, so the step function reads and writes only whole vectors and nothing past the ends.
// Internal linkage: each ISA's object gets its own copy (no weak symbols).
#pragma once
#include <cstddef>
#include <cstring>

namespace attocore {
namespace {

// step(const In* x, Out* y) computes kStep outputs.
template <size_t kStep, typename In, typename Out, typename Step>
inline void for_steps_with_staged_tail(const In* x, Out* y, size_t n, const Step& step) {
  size_t i = 0;
  for (; i + kStep <= n; i += kStep) step(x + i, y + i);
  if (i < n) {
    In tx[kStep] = {};
    Out ty[kStep];
    std::memcpy(tx, x + i, (n - i) * sizeof(In));
    step(tx, ty);
    std::memcpy(y + i, ty, (n - i) * sizeof(Out));
  }
}

}  // namespace
}  // namespace attocore
