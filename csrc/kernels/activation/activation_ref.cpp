// The definition, one float at a time with std::exp (kernels/eltwise/activation.h): the
// oracle the vector variants are tested against, and the reference table's kernel.
#include "kernels/activation/activation.h"
#include "kernels/eltwise/activation.h"

namespace attocore {

void activation_ref(Activation act, const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = activate(act, x[i]);
}

}  // namespace attocore
