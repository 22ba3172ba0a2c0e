// The fp16 GEMM kernels, declared from their list (gemm_neonfp16.inc; gemm_list.h).
#pragma once
#include <type_traits>

#include "kernels/gemm/gemm.h"

namespace attocore {

#define GEMM_LIST "kernels/gemm/gemm_neonfp16.inc"
#include "kernels/gemm/gemm_declare.h"

}  // namespace attocore
