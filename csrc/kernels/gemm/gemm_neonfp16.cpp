// The fp16 GEMM kernels (gemm_neonfp16.inc), compiled with -march=armv8.2-a+fp16 and run only
// where cpu_features() reports FEAT_FP16 (HWCAP_ASIMDHP).
//
// Per output: s = 0 (fp16); for k in order s = fma16(s, half(a[k]), w[k]) (a rounded to
// binary16 as it is loaded, w packed as binary16, each FMA rounded once to binary16); then in
// fp32: y = clamp(float(s) + bias (+ residual)). The fp32 activations in the arena are
// converted at the kernel's boundary: the tile's A rows once per tile into an fp16 copy on the
// stack (per row and 8 k-values 2 loads, 2 narrowing converts, 1 store), which the inline
// assembly's passes read; the sums are widened once at the store.
// Which of the two kernels computes a column never changes its bits (same operations, same
// order).
#include "kernels/gemm/gemm_neonfp16.h"

#include <arm_neon.h>

namespace attocore {
namespace {

// Steps ki .. t.k - 1 by broadcast, then the fp32 epilogue (w at step ki's weights).
template <int MR, int NV>
__attribute__((always_inline)) inline void finish_f16(float16x8_t (&acc)[MR][NV], const float* const (&a)[MR],
                                                      const float16_t* w, int ki, const GemmTile& t) {
  constexpr int NR = 8 * NV;
  const int k = t.k;
  for (; ki < k; ++ki, w += NR) {
    float16x8_t b[NV];
    _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) b[v] = vld1q_f16(w + 8 * v);
    _Pragma("GCC unroll 8") for (int r = 0; r < MR; ++r) {
      const float16x8_t x = vdupq_n_f16(float16_t(a[r][ki]));
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) acc[r][v] = vfmaq_f16(acc[r][v], x, b[v]);
    }
  }
  // The epilogue in fp32: widen, bias, residual, clamp (a max and a min only for bounds that
  // clamp, as the fp32 kernels).
  const float* bias = t.panel;
  const float32x4_t lo = vdupq_n_f32(t.ep.min), hi = vdupq_n_f32(t.ep.max);
  const bool clamp_lo = t.ep.clamps_min(), clamp_hi = t.ep.clamps_max();
  _Pragma("GCC unroll 8") for (int r = 0; r < MR; ++r) {
    if (r >= t.rows) break;
    float* c = t.c + size_t(r) * t.c_stride;
    const float* res = t.residual ? t.residual + size_t(r) * t.r_stride : nullptr;
    _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) {
      float32x4_t y[2] = {vaddq_f32(vcvt_f32_f16(vget_low_f16(acc[r][v])), vld1q_f32(bias + 8 * v)),
                          vaddq_f32(vcvt_high_f32_f16(acc[r][v]), vld1q_f32(bias + 8 * v + 4))};
      _Pragma("GCC unroll 2") for (int h = 0; h < 2; ++h) {
        const int col = 8 * v + 4 * h, left = t.cols - col;
        if (left <= 0) break;
        if (left >= 4) {
          if (res) y[h] = vaddq_f32(y[h], vld1q_f32(res + col));
          if (clamp_lo) y[h] = vmaxq_f32(y[h], lo);
          if (clamp_hi) y[h] = vminq_f32(y[h], hi);
          vst1q_f32(c + col, y[h]);
        } else {  // the last columns of a partial panel
          float out[4];
          vst1q_f32(out, y[h]);
          for (int j = 0; j < left; ++j) c[col + j] = t.ep.apply(out[j] + (res ? res[col + j] : 0.f));
        }
      }
    }
  }
}


// 8 rows x 8 columns (one half of the 8 x 16 tile) over `blocks` blocks of 8 k-steps, as
// inline assembly: GCC's schedule of the same intrinsics spilled accumulators and turned FMAs
// by lane into dup + FMA (llvm-mca, Neoverse N1: 181 cycles per 128 FMAs, 35% of the FMA
// bound; docs/DECISIONS.md). A comes from the tile's fp16 copy `ah` (per block 8 rows x 8
// halves, row-major), B from the panel (per k-step 16 halves; this half's 8 at w). Per block 8
// A loads, 8 B loads, 64 FMAs by lane (the element register must be v0-v15 for .h: A sits in
// v0-v7). One asm statement holds at most 30 operands: 16 accumulators would need 32, hence
// two halves, each a pass over the blocks (the second re-reads ah and its B from L1). The
// FMAs per accumulator run in k order, as the k remainder's (finish_f16): one rounding per
// step, whichever path a step takes.
#define ATTO_H_ROW(r, l, b) "fmla %[c" #r "].8h, v" #b ".8h, v" #r ".h[" #l "]\n"
#define ATTO_H_STEP(l, b)                                                                                           \
  ATTO_H_ROW(0, l, b) ATTO_H_ROW(1, l, b) ATTO_H_ROW(2, l, b) ATTO_H_ROW(3, l, b) ATTO_H_ROW(4, l, b) \
      ATTO_H_ROW(5, l, b) ATTO_H_ROW(6, l, b) ATTO_H_ROW(7, l, b)
// The loop body: per block 8 A loads, 8 B loads (step `ws` bytes apart), 64 FMAs by lane.
#define ATTO_H_BLOCKS(o1, o2, o3, o4, o5, o6, o7, blk)                                          \
  "\n.Lattocore_h8x8_%=:\n"                                                                      \
  "ldp q0, q1, [%[a]]\n"                                                                        \
  "ldp q2, q3, [%[a], 32]\n"                                                                    \
  "ldp q4, q5, [%[a], 64]\n"                                                                    \
  "ldp q6, q7, [%[a], 96]\n"                                                                    \
  "ldr q16, [%[w]]\n"                                                                           \
  "ldr q17, [%[w], " #o1 "]\n"                                                                  \
  "ldr q18, [%[w], " #o2 "]\n"                                                                  \
  "ldr q19, [%[w], " #o3 "]\n"                                                                  \
  "ldr q20, [%[w], " #o4 "]\n"                                                                  \
  "ldr q21, [%[w], " #o5 "]\n"                                                                  \
  "ldr q22, [%[w], " #o6 "]\n"                                                                  \
  "ldr q23, [%[w], " #o7 "]\n"                                                                  \
  "add %[a], %[a], 128\n"                                                                       \
  "add %[w], %[w], " #blk "\n"                                                                  \
  "subs %w[n], %w[n], 1\n" ATTO_H_STEP(0, 16) ATTO_H_STEP(1, 17) ATTO_H_STEP(2, 18) ATTO_H_STEP(3, 19) \
      ATTO_H_STEP(4, 20) ATTO_H_STEP(5, 21) ATTO_H_STEP(6, 22) ATTO_H_STEP(7, 23) "b.ne .Lattocore_h8x8_%=\n"
#define ATTO_H_OPERANDS                                                                                            \
  : [c0] "+w"(c0), [c1] "+w"(c1), [c2] "+w"(c2), [c3] "+w"(c3), [c4] "+w"(c4), [c5] "+w"(c5), [c6] "+w"(c6),    \
    [c7] "+w"(c7), [a] "+r"(ah), [w] "+r"(w), [n] "+r"(blocks)                                                   \
  :                                                                                                              \
  : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v16", "v17", "v18", "v19", "v20", "v21", \
    "v22", "v23"

// 8 accumulators (column vector v of each row) on panels of NV vectors: B steps 16 NV bytes.
template <int MR, int NV>
__attribute__((always_inline)) inline void blocks_8x8(float16x8_t (&acc)[MR][NV], int v, const float16_t* ah,
                                                     const float16_t* w, int blocks) {
  static_assert(MR == 8 && (NV == 1 || NV == 2), "8 rows, panels of 8 or 16 halves");
  float16x8_t &c0 = acc[0][v], &c1 = acc[1][v], &c2 = acc[2][v], &c3 = acc[3][v], &c4 = acc[4][v],
              &c5 = acc[5][v], &c6 = acc[6][v], &c7 = acc[7][v];
  w += 8 * v;
  if constexpr (NV == 2) {
    __asm__ volatile(ATTO_H_BLOCKS(32, 64, 96, 128, 160, 192, 224, 256) ATTO_H_OPERANDS);
  } else {
    __asm__ volatile(ATTO_H_BLOCKS(16, 32, 48, 64, 80, 96, 112, 128) ATTO_H_OPERANDS);
  }
}
#undef ATTO_H_OPERANDS
#undef ATTO_H_BLOCKS
#undef ATTO_H_STEP
#undef ATTO_H_ROW

// The 8-row tiles: the whole blocks of 8 k-steps through blocks_8x8
// (one pass per column vector) on an fp16 copy of A made once per tile, in segments of
// kSegBlocks blocks (4 KiB on the stack).
template <int NV>
void tile_8_asm(const GemmTile& t) {
  constexpr int MR = 8, NR = 8 * NV, kSegBlocks = 32;
  float16x8_t acc[MR][NV];
  _Pragma("GCC unroll 8") for (int r = 0; r < MR; ++r)
    _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) acc[r][v] = vdupq_n_f16(0);
  const float* a[MR];
  _Pragma("GCC unroll 8") for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.a_stride;
  const float16_t* w = reinterpret_cast<const float16_t*>(t.panel + NR);
  const int k = t.k, blocks = k / 8;
  alignas(16) float16_t ah[kSegBlocks * 64];
  for (int b0 = 0; b0 < blocks; b0 += kSegBlocks) {
    const int n = blocks - b0 < kSegBlocks ? blocks - b0 : kSegBlocks;
    for (int q = 0; q < n; ++q) {
      const int ki = 8 * (b0 + q);
      _Pragma("GCC unroll 8") for (int r = 0; r < MR; ++r)
        vst1q_f16(ah + 64 * q + 8 * r, vcvt_high_f16_f32(vcvt_f16_f32(vld1q_f32(a[r] + ki)), vld1q_f32(a[r] + ki + 4)));
    }
    _Pragma("GCC unroll 2") for (int v = 0; v < NV; ++v) blocks_8x8<MR, NV>(acc, v, ah, w, n);
    w += size_t(n) * 8 * NR;
  }
  finish_f16<MR, NV>(acc, a, w, 8 * blocks, t);
}

}  // namespace

void gemm_8x8_neonfp16(const GemmTile& t) { tile_8_asm<1>(t); }
void gemm_8x16_neonfp16(const GemmTile& t) { tile_8_asm<2>(t); }

}  // namespace attocore
