// The AVX2 GEMM kernels, declared from their list (gemm_avx2.inc; gemm_list.h).
#pragma once
#include <type_traits>

#include "kernels/gemm/gemm.h"

namespace attocore {

#define GEMM_LIST "kernels/gemm/gemm_avx2.inc"
#include "kernels/gemm/gemm_declare.h"

}  // namespace attocore
