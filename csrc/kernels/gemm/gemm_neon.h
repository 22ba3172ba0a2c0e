// The NEON GEMM kernels, declared from their list (gemm_neon.inc; gemm_list.h).
#pragma once
#include <type_traits>

#include "kernels/gemm/gemm.h"

namespace attocore {

#define GEMM_LIST "kernels/gemm/gemm_neon.inc"
#include "kernels/gemm/gemm_declare.h"

}  // namespace attocore
