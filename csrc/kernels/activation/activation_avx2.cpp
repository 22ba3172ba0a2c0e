// activation_loops.h on VecAvx2 (CMakeLists.txt compiles this file with its instruction set).
#include "kernels/activation/activation.h"
#include "kernels/activation/activation_loops.h"
#include "kernels/simd/vec_avx2.h"

namespace attocore {

void activation_avx2(Activation act, const float* x, float* y, size_t n) {
  activation_loops::run<VecAvx2>(act, x, y, n);
}

}  // namespace attocore
