// NEON GEMM microkernels (aarch64, and ARMv7 with neon-vfpv4 for vfmaq_f32): gemm_tile.h's
// kernels on 4-lane vectors (on aarch64 four k-steps per A load, FMAs by lane), and
// aarch64's row kernels. 6x8 keeps 12 accumulators (fits ARMv7's 16 q registers); 4x16 uses 16.
#include "kernels/gemm/gemm_neon.h"

#include <arm_neon.h>

#include "kernels/gemm/gemm_tile.h"
#include "kernels/simd/vec_neon.h"

namespace attocore {
namespace {

#if defined(__aarch64__)
// 4 rows x every column on plain NR = 16 panels for a compile-time k <= 8 (a small net's
// decompression, k = c3 = 5-8): the rows' k values stay in registers for the whole sweep
// (8 of 32), so each 4 x 16 block costs only its k B loads and its epilogue, where a call
// per tile re-loaded A and paid the call's entry for k FMAs per accumulator (on AVX2 the
// same idea took AttoNet-D's decompression from 12 to ~22 G multiply-adds/s).
template <int K, bool RESIDUAL>
void gemm_rows_neon(const GemmTile& t) {
  using Vec = VecNeon;
  constexpr int MR = 4, KV = (K + 3) / 4;
  const int rows = t.rows, cols = t.cols;
  float32x4_t av[MR][KV];
  _Pragma("GCC unroll 4") for (int r = 0; r < MR; ++r) {
    const float* a = t.a + size_t(r < rows ? r : rows - 1) * t.a_stride;
    float lanes[4 * KV] = {};  // copied, not loaded whole: the row may end at the buffer's end
    for (int i = 0; i < K; ++i) lanes[i] = a[i];
    _Pragma("GCC unroll 2") for (int j = 0; j < KV; ++j) av[r][j] = vld1q_f32(lanes + 4 * j);
  }
  const float32x4_t lo = vdupq_n_f32(t.ep.min), hi = vdupq_n_f32(t.ep.max);
  const float* panel = t.panel;
  for (int c0 = 0; c0 < cols; c0 += 16, panel += t.panel_stride) {
    // Opaque each sweep: GCC would otherwise hoist a broadcast of each of the 4 x K values
    // out of the loop (32 vectors for K = 8) and spill them, instead of FMAs by lane.
    _Pragma("GCC unroll 4") for (int r = 0; r < MR; ++r)
      _Pragma("GCC unroll 2") for (int j = 0; j < KV; ++j) __asm__("" : "+w"(av[r][j]));
    float32x4_t acc[MR][4];
    _Pragma("GCC unroll 4") for (int v = 0; v < 4; ++v) {
      const float32x4_t bias = vld1q_f32(panel + 4 * v);
      _Pragma("GCC unroll 4") for (int r = 0; r < MR; ++r) acc[r][v] = bias;
    }
    // Constant indices once unrolled: accumulators and lanes stay in registers.
    _Pragma("GCC unroll 8") for (int k = 0; k < K; ++k) {
      float32x4_t b[4];
      _Pragma("GCC unroll 4") for (int v = 0; v < 4; ++v) b[v] = vld1q_f32(panel + 16 * (k + 1) + 4 * v);
      _Pragma("GCC unroll 4") for (int r = 0; r < MR; ++r)
        _Pragma("GCC unroll 4") for (int v = 0; v < 4; ++v) acc[r][v] = Vec::fma_lane(acc[r][v], b[v], av[r][k / 4], k % 4);
    }
    const int left = cols - c0;
    _Pragma("GCC unroll 4") for (int r = 0; r < MR; ++r) {
      if (r >= rows) break;
      float* c = t.c + size_t(r) * t.c_stride + c0;
      const float* res = RESIDUAL ? t.residual + size_t(r) * t.r_stride + c0 : nullptr;
      _Pragma("GCC unroll 4") for (int v = 0; v < 4; ++v) {
        float32x4_t y = acc[r][v];
        if (4 * v + 4 <= left) {
          if (RESIDUAL) y = vaddq_f32(y, vld1q_f32(res + 4 * v));
          vst1q_f32(c + 4 * v, vminq_f32(vmaxq_f32(y, lo), hi));
        } else if (4 * v < left) {  // the last, partial panel
          float out[4];
          vst1q_f32(out, y);
          for (int j = 0; j < left - 4 * v; ++j)
            c[4 * v + j] = t.ep.apply(out[j] + (RESIDUAL ? res[4 * v + j] : 0.f));
        }
      }
    }
  }
}

template <int K>
void gemm_rows_neon_k(const GemmTile& t) {
  if (t.residual) {
    gemm_rows_neon<K, true>(t);
  } else {
    gemm_rows_neon<K, false>(t);
  }
}
#endif

}  // namespace

// Each compiled only where its table uses it (gemm_neon.inc).
#if defined(__aarch64__)
void gemm_4x16_neon(const GemmTile& t) { gemm_tile<VecNeon, 4, 4>(t); }
void igemm_4x16_neon(const GemmIndirectTile& t) { igemm_tile<VecNeon, 4, 4>(t); }
void gemm_row_16_neon(const GemmTile& t) { gemm_row<VecNeon, 4>(t); }

GemmUkernel gemm_rows_4x16_neon(int k) {
  switch (k) {
    case 4: return gemm_rows_neon_k<4>;
    case 5: return gemm_rows_neon_k<5>;
    case 6: return gemm_rows_neon_k<6>;
    case 7: return gemm_rows_neon_k<7>;
    case 8: return gemm_rows_neon_k<8>;
    default: return nullptr;
  }
}
#else
void gemm_row_8_neon(const GemmTile& t) { gemm_row<VecNeon, 2>(t); }
void igemm_6x8_neon(const GemmIndirectTile& t) { igemm_tile<VecNeon, 6, 2>(t); }
#endif
void gemm_6x8_neon(const GemmTile& t) { gemm_tile<VecNeon, 6, 2>(t); }

}  // namespace attocore
