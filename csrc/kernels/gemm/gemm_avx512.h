// The AVX-512 GEMM kernels, declared from their list (gemm_avx512.inc; gemm_list.h).
#pragma once
#include <type_traits>

#include "kernels/gemm/gemm.h"

namespace attocore {

#define GEMM_LIST "kernels/gemm/gemm_avx512.inc"
#include "kernels/gemm/gemm_declare.h"

}  // namespace attocore
