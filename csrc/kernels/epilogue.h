// What a kernel does to each output after its sum (and residual add): y = min(max(y, min), max).
// The graph's activations are such clamps (none: [-inf, inf], ReLU: [0, inf], ReLU6: [0, 6]);
// the conversion lives outside the kernels (graph/activation_epilogue.h), which so do not
// depend on the graph's vocabulary.
#pragma once

namespace attocore {

struct Epilogue {
  float min = -__builtin_inff();
  float max = __builtin_inff();

  // Whether a bound changes anything: the tile kernels apply only those that do (a max with
  // -inf or a min with +inf leaves every y but NaN as it is, and the executor refuses NaN
  // inputs), as they did before epilogues had bounds.
  bool clamps_min() const { return min > -__builtin_inff(); }
  bool clamps_max() const { return max < __builtin_inff(); }
  bool clamps() const { return clamps_min() || clamps_max(); }
  // The clamp on one float, with the vector instructions' semantics (max(y, lo) is
  // y > lo ? y : lo, min(y, hi) is y < hi ? y : hi), so scalar and vector lanes agree bit for bit.
  float apply(float y) const {
    y = y > min ? y : min;
    return y < max ? y : max;
  }
};

}  // namespace attocore
