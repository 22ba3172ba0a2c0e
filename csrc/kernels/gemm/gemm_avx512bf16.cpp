// The bf16 GEMM kernels (gemm_avx512bf16.inc) on the AVX512-BF16 instructions: this file
// alone is compiled with -mavx512bf16, and its kernels run only where cpu_features() reports
// AVX512_BF16 with the OS saving the zmm state (precision "bf16"; kernel_table.cpp). The
// kernel code is gemm_bf16_tile.h's, shared with the emulated copy the tester runs anywhere.
#include "kernels/gemm/gemm_avx512bf16.h"

#include "kernels/gemm/gemm_bf16_tile.h"
#include "kernels/simd/bf16_avx512.h"

namespace attocore {

void gemm_6x32_avx512bf16(const GemmTile& t) { gemm_bf16_tile<Bf16Native, 6, 2>(t); }
void gemm_6x16_avx512bf16(const GemmTile& t) { gemm_bf16_tile<Bf16Native, 6, 1>(t); }
void gemm_6x8_avx512bf16(const GemmTile& t) { gemm_bf16_quads8<Bf16Native, 6>(t); }

void bf16_pack_native(const float* x, uint32_t* words) {
  _mm512_storeu_si512(words, Bf16Native::pack(_mm512_loadu_ps(x), _mm512_loadu_ps(x + 16)));
}
void bf16_dot_native(const uint32_t* a, const uint32_t* b, int n, float* acc) {
  __m512 s = _mm512_loadu_ps(acc);
  for (int i = 0; i < n; ++i) s = Bf16Native::dot(s, _mm512_loadu_si512(a + 16 * i), _mm512_loadu_si512(b + 16 * i));
  _mm512_storeu_ps(acc, s);
}

}  // namespace attocore
