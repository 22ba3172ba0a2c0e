// The AMX bf16 GEMM kernel, declared from its list (gemm_amxbf16.inc; gemm_list.h).
#pragma once
#include <type_traits>

#include "kernels/gemm/gemm.h"

namespace attocore {

#define GEMM_LIST "kernels/gemm/gemm_amxbf16.inc"
#include "kernels/gemm/gemm_declare.h"

}  // namespace attocore
