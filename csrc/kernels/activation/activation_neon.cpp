// activation_loops.h on VecNeon (CMakeLists.txt compiles this file with its instruction set).
#include "kernels/activation/activation.h"
#include "kernels/activation/activation_loops.h"
#include "kernels/simd/vec_neon.h"

namespace attocore {

void activation_neon(Activation act, const float* x, float* y, size_t n) {
  activation_loops::run<VecNeon>(act, x, y, n);
}

}  // namespace attocore
