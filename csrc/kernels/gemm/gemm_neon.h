#pragma once
#include "kernels/gemm/gemm.h"

namespace attocore {

void gemm_6x8_neon(const GemmTile& t);
void gemm_4x16_neon(const GemmTile& t);
#if defined(__aarch64__)
// Row kernels for the 4x16 kernel's packing, k = 4..8 (null otherwise): see gemm.h.
GemmUkernel gemm_rows_4x16_neon(int k);
#endif

}  // namespace attocore
