// The reference GEMM kernels, declared from their list (gemm_ref.inc; gemm_list.h).
#pragma once
#include <type_traits>

#include "kernels/gemm/gemm.h"

namespace attocore {

#define GEMM_LIST "kernels/gemm/gemm_ref.inc"
#include "kernels/gemm/gemm_declare.h"

}  // namespace attocore
