// The bf16 GEMM kernels, declared from their list (gemm_avx512bf16.inc; gemm_list.h).
#pragma once
#include <cstdint>
#include <type_traits>

#include "kernels/gemm/gemm.h"

namespace attocore {

#define GEMM_LIST "kernels/gemm/gemm_avx512bf16.inc"
#include "kernels/gemm/gemm_declare.h"

// For the tester (test_bf16_kernels.cpp), the two operations alone on the instructions: 32 floats
// to 32 bf16 (16 words), and acc[0..15] after n dots of words a[16 i ..] and b[16 i ..].
void bf16_pack_native(const float* x, uint32_t* words);
void bf16_dot_native(const uint32_t* a, const uint32_t* b, int n, float* acc);

}  // namespace attocore
