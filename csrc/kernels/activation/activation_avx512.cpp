// activation_loops.h on VecAvx512 (CMakeLists.txt compiles this file with its instruction set).
#include "kernels/activation/activation.h"
#include "kernels/activation/activation_loops.h"
#include "kernels/simd/vec_avx512.h"

namespace attocore {

void activation_avx512(Activation act, const float* x, float* y, size_t n) {
  activation_loops::run<VecAvx512>(act, x, y, n);
}

}  // namespace attocore
