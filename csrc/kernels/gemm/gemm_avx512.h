#pragma once
#include "kernels/gemm/gemm.h"

namespace attocore {

void gemm_6x32_avx512(const GemmTile& t);
void gemm_5x32_avx512(const GemmTile& t);
void gemm_6x8_quads_avx512(const GemmTile& t);  // GemmPacking::kQuads: outputs of at most 8 channels
void gemm_6x16_pairs_avx512(const GemmTile& t);  // GemmPacking::kPairs: narrow last panel of the 6x32 kernels
GemmUkernel gemm_rows_6x32_avx512(int k);  // row kernels for k in [1, 128], else null
GemmUkernel gemm_rows_5x32_avx512(int k);  // the same with 5 rows
void gemm_row_32_avx512(const GemmTile& t);         // single_row of the 6x32 and 5x32 kernels
void igemm_6x32_avx512(const GemmIndirectTile& t);  // indirect kernel of the 6x32 kernel
void gemm_6x16_avx512(const GemmTile& t);           // plain 16-wide, for convolutions of <= 16 outputs
void igemm_6x16_avx512(const GemmIndirectTile& t);  // its indirect kernel

}  // namespace attocore
