// AVX2+FMA GEMM microkernels (compiled with -mavx2 -mfma; called only when cpuid says so):
// gemm_tile.h's kernels on 8-lane vectors. MR rows x NV vectors: per k, one broadcast of A
// per row and NV loads of B.
#include "kernels/gemm/gemm_avx2.h"

#include "kernels/gemm/gemm_tile.h"
#include "kernels/simd/vec_avx2.h"

namespace attocore {

void gemm_6x16_avx2(const GemmTile& t) { gemm_tile<VecAvx2, 6, 2>(t); }
void gemm_5x16_avx2(const GemmTile& t) { gemm_tile<VecAvx2, 5, 2>(t); }
void igemm_6x16_avx2(const GemmIndirectTile& t) { igemm_tile<VecAvx2, 6, 2>(t); }
void gemm_row_16_avx2(const GemmTile& t) { gemm_row<VecAvx2, 2>(t); }
GemmUkernel gemm_rows_6x16_avx2(int k) { return gemm_rows_for<VecAvx2, 6>(k); }
GemmUkernel gemm_rows_5x16_avx2(int k) { return gemm_fewer_rows_for<VecAvx2, 5>(k); }
// For outputs of at most 8 channels: the loop of an 8-wide plain kernel is bound by its
// broadcasts (one per FMA); measured on the compress layers (N = 8, K = 264-467): 19 -> 37 G
// multiply-adds/s.
void gemm_6x8_pairs_avx2(const GemmTile& t) { gemm_pairs_tile<VecAvx2, 6>(t); }

}  // namespace attocore
