#pragma once
#include "kernels/gemm/gemm.h"

namespace attocore {

void gemm_6x8_neon(const GemmTile& t);
void gemm_4x16_neon(const GemmTile& t);

}  // namespace attocore
