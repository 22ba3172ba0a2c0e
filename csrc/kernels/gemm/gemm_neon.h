#pragma once
#include "kernels/gemm/gemm.h"

namespace attocore {

void gemm_6x8_neon(const GemmTile& t);
void gemm_4x16_neon(const GemmTile& t);
void gemm_row_8_neon(const GemmTile& t);  // single_row of the 6x8 kernel (ARMv7's wide kernel)
void igemm_6x8_neon(const GemmIndirectTile& t);   // indirect kernels of the 6x8 and 4x16 kernels
void igemm_4x16_neon(const GemmIndirectTile& t);
#if defined(__aarch64__)
// Row kernels for the 4x16 kernel's packing, k = 4..8 (null otherwise): see gemm.h.
GemmUkernel gemm_rows_4x16_neon(int k);
void gemm_row_16_neon(const GemmTile& t);  // single_row of the 4x16 kernel
#endif

}  // namespace attocore
