#pragma once
#include "kernels/gemm/gemm.h"

namespace attocore {

void gemm_6x16_avx2(const GemmTile& t);
void gemm_6x8_pairs_avx2(const GemmTile& t);  // GemmPacking::kPairs

}  // namespace attocore
