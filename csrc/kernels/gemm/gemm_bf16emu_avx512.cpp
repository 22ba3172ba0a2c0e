// The bf16 GEMM kernels (gemm_bf16_tile.h) on the AVX-512F emulation of the AVX512-BF16
// instructions (simd/bf16_avx512.h's Bf16Emulated), compiled with the AVX-512 files' flags:
// the tester runs them on any AVX-512F CPU, so the kernels' code (packing, A conversion, odd
// k, tails, epilogue) is checked where the real instructions are missing. Never in a table.
#include "kernels/gemm/gemm_bf16emu_avx512.h"

#include "kernels/gemm/gemm_bf16_tile.h"
#include "kernels/simd/bf16_avx512.h"

namespace attocore {

void gemm_6x32_bf16emu_avx512(const GemmTile& t) { gemm_bf16_tile<Bf16Emulated, 6, 2>(t); }
void gemm_6x16_bf16emu_avx512(const GemmTile& t) { gemm_bf16_tile<Bf16Emulated, 6, 1>(t); }
void gemm_6x8_bf16emu_avx512(const GemmTile& t) { gemm_bf16_quads8<Bf16Emulated, 6>(t); }

void bf16_pack_emulated(const float* x, uint32_t* words) {
  _mm512_storeu_si512(words, Bf16Emulated::pack(_mm512_loadu_ps(x), _mm512_loadu_ps(x + 16)));
}
void bf16_dot_emulated(const uint32_t* a, const uint32_t* b, int n, float* acc) {
  __m512 s = _mm512_loadu_ps(acc);
  for (int i = 0; i < n; ++i) s = Bf16Emulated::dot(s, _mm512_loadu_si512(a + 16 * i), _mm512_loadu_si512(b + 16 * i));
  _mm512_storeu_ps(acc, s);
}

}  // namespace attocore
