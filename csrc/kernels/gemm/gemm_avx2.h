#pragma once
#include "kernels/gemm/gemm.h"

namespace attocore {

void gemm_6x16_avx2(const GemmTile& t);
void gemm_5x16_avx2(const GemmTile& t);
GemmUkernel gemm_rows_6x16_avx2(int k);  // row kernels for k in [1, 128], else null
GemmUkernel gemm_rows_5x16_avx2(int k);  // the same with 5 rows
void gemm_6x8_pairs_avx2(const GemmTile& t);  // GemmPacking::kPairs
void gemm_row_16_avx2(const GemmTile& t);         // single_row of the 6x16 and 5x16 kernels
void igemm_6x16_avx2(const GemmIndirectTile& t);  // indirect kernel of the 6x16 kernel

}  // namespace attocore
