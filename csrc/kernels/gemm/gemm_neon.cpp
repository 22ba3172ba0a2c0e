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
// Half of the 4 x 16 tile (8 columns: 8 accumulators) through whole blocks of 4 k-steps,
// as inline assembly: per block one A load per row (4 k-values), the block's 8 B vectors,
// then 32 FMAs by lane. Written out because GCC's schedule of the same intrinsics depends on
// -mcpu and lost registers: built for the A72/A76 it hoisted all 16 B loads of the 16-wide
// block to its top (4 + 16 + 16 accumulators > 32 registers) and spilled 4 accumulators (a
// load and a store each per block), or, with the loads held in place, copied registers (8
// moves per block, on the FMA pipes: 86-91% of the FMA bound on the A76, OSACA N1). One asm
// statement holds at most 30 operands (an in-out one counts twice), so the 16 accumulators go
// as two halves, each a pass over k; the second re-reads A from L1 (4 more loads per 32
// FMAs, free beside the FMAs on the A72 and A76). All of a block's loads come first, at
// immediate offsets: llvm-mca's in-order A53 model charges 4 cycles for a post-incremented
// load and holds a load issued after an FMA until that FMA completes (it retires in order),
// so the schedule that suits the out-of-order cores is also its best (docs/DECISIONS.md,
// "NEON kernels"). Per accumulator the FMAs run in k order: results are those of
// gemm_tile.h's loop, bit for bit. Advances a[] past the blocks; returns w past them.
#define ATTO_FMLA_ROW(r, l, b0, b1)                          \
  "fmla %[c" #r "0].4s, v" #b0 ".4s, v" #r ".s[" #l "]\n" \
  "fmla %[c" #r "1].4s, v" #b1 ".4s, v" #r ".s[" #l "]\n"
#define ATTO_FMLA_STEP(l, b0, b1) \
  ATTO_FMLA_ROW(0, l, b0, b1) ATTO_FMLA_ROW(1, l, b0, b1) ATTO_FMLA_ROW(2, l, b0, b1) ATTO_FMLA_ROW(3, l, b0, b1)

__attribute__((always_inline)) inline const float* k_quads_4x8of16(float32x4_t (&acc)[4][4], int half, const float* (&a)[4],
                                                                    const float* w, int quads) {
  float32x4_t &c00 = acc[0][2 * half], &c01 = acc[0][2 * half + 1], &c10 = acc[1][2 * half],
              &c11 = acc[1][2 * half + 1], &c20 = acc[2][2 * half], &c21 = acc[2][2 * half + 1],
              &c30 = acc[3][2 * half], &c31 = acc[3][2 * half + 1];
  w += 8 * half;
  __asm__ volatile(
      "\n.Lattocore_quads_4x16_%=:\n"
      "ldr q0, [%[a0]]\n"
      "ldr q1, [%[a1]]\n"
      "ldr q2, [%[a2]]\n"
      "ldr q3, [%[a3]]\n"
      "ldp q4, q5, [%[w]]\n"
      "ldp q6, q7, [%[w], 64]\n"
      "ldp q16, q17, [%[w], 128]\n"
      "ldp q18, q19, [%[w], 192]\n"
      "add %[a0], %[a0], 16\n"
      "add %[a1], %[a1], 16\n"
      "add %[a2], %[a2], 16\n"
      "add %[a3], %[a3], 16\n"
      "add %[w], %[w], 256\n"
      "subs %w[n], %w[n], 1\n"
      ATTO_FMLA_STEP(0, 4, 5)
      ATTO_FMLA_STEP(1, 6, 7)
      ATTO_FMLA_STEP(2, 16, 17)
      ATTO_FMLA_STEP(3, 18, 19)
      "b.ne .Lattocore_quads_4x16_%=\n"
      : [c00] "+w"(c00), [c01] "+w"(c01), [c10] "+w"(c10), [c11] "+w"(c11), [c20] "+w"(c20), [c21] "+w"(c21),
        [c30] "+w"(c30), [c31] "+w"(c31), [a0] "+r"(a[0]), [a1] "+r"(a[1]), [a2] "+r"(a[2]), [a3] "+r"(a[3]),
        [w] "+r"(w), [n] "+r"(quads)
      :
      : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v16", "v17", "v18", "v19");
  return w - 8 * half;
}
#undef ATTO_FMLA_STEP
#undef ATTO_FMLA_ROW

// Both halves over the blocks of 4 k-steps of rows a[]; a[] advanced past them, w returned past them.
__attribute__((always_inline)) inline const float* k_quads_4x16(float32x4_t (&acc)[4][4], const float* (&a)[4],
                                                                 const float* w, int quads) {
  if (quads <= 0) return w;
  const float* a2[4] = {a[0], a[1], a[2], a[3]};
  k_quads_4x8of16(acc, 0, a, w, quads);
  return k_quads_4x8of16(acc, 1, a2, w, quads);
}

// gemm_tile / igemm_tile (gemm_tile.h) with k_quads_4x16 for the whole blocks of 4 k-steps.
void tile_4x16(const GemmTile& t) {
  float32x4_t acc[4][4];
  start_tile<VecNeon, 4, 4>(acc, t.panel);
  const float* a[4];
  _Pragma("GCC unroll 4") for (int r = 0; r < 4; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.a_stride;
  const float* w = k_quads_4x16(acc, a, t.panel + 16, t.k / 4);
  k_steps<VecNeon, 4, 4>(acc, a, w, t.k % 4);
  store_tile<VecNeon, 4, 4>(acc, t.rows, t.cols, t.c, t.c_stride, t.residual, t.r_stride, t.ep);
}

void itile_4x16(const GemmIndirectTile& t) {
  float32x4_t acc[4][4];
  if (t.k_begin == 0) {
    start_tile<VecNeon, 4, 4>(acc, t.panel);
  } else {
    resume_tile<VecNeon, 4, 4>(acc, t.rows, t.cols, t.c, t.c_stride);
  }
  const float* w = t.panel + 16 + size_t(t.k_begin) * 16;
  const int cin = t.cin, k_end = t.k_end;
  int tap = t.k_begin / cin, ci = t.k_begin % cin;
  for (int ki = t.k_begin; ki < k_end; ++tap, ci = 0) {
    const int count = std::min(cin - ci, k_end - ki);
    const float* a[4];
    _Pragma("GCC unroll 4") for (int r = 0; r < 4; ++r) a[r] = t.a[tap * 4 + r] + ci;
    w = k_quads_4x16(acc, a, w, count / 4);
    w = k_steps<VecNeon, 4, 4>(acc, a, w, count % 4);
    ki += count;
  }
  if (k_end == t.taps * cin) {
    store_tile<VecNeon, 4, 4>(acc, t.rows, t.cols, t.c, t.c_stride, t.residual, t.r_stride, t.ep);
  } else {
    store_partial<VecNeon, 4, 4>(acc, t.rows, t.cols, t.c, t.c_stride);
  }
}

// 4 rows x every column on plain NR = 16 panels for a compile-time k <= 8 (a small net's
// decompression, k = c3 = 5-8): the rows' k values stay in registers for the whole sweep
// (8 of 32), so each 4 x 16 block costs only its k B loads and its epilogue, where a call
// per tile re-loaded A and paid the call's entry for k FMAs per accumulator (on AVX2 the
// same idea took AttoNet-D's decompression from 12 to ~22 G multiply-adds/s).
// Without pre-RA scheduling (ATTOCORE_NO_PRESCHEDULE): with it, built for the A76, GCC
// copied registers around the unrolled k loop (65-79% of the FMA bound, OSACA N1; 83-91%
// without, 100% with the bias loads below).
template <int K, bool RESIDUAL>
ATTOCORE_NO_PRESCHEDULE void gemm_rows_neon(const GemmTile& t) {
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
    // Each row's accumulators from their own bias loads (an opaque copy of the pointer per
    // row, so the loads are not merged): FMLA overwrites its accumulator, so shared bias
    // registers cost 12 register moves per block on the FMA pipes (83-89% of the FMA bound
    // at k = 4-6 on the A76, OSACA N1).
    float32x4_t acc[MR][4];
    _Pragma("GCC unroll 4") for (int r = 0; r < MR; ++r) {
      const float* bias = panel;
      __asm__ volatile("" : "+r"(bias));
      _Pragma("GCC unroll 4") for (int v = 0; v < 4; ++v) acc[r][v] = vld1q_f32(bias + 4 * v);
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
void gemm_4x16_neon(const GemmTile& t) { tile_4x16(t); }
void igemm_4x16_neon(const GemmIndirectTile& t) { itile_4x16(t); }
// Without pre-RA scheduling: 84% -> 100% of the FMA bound on the A76 (OSACA N1), 94% -> 97%
// on the A72; the in-order A53 loses (llvm-mca: 24% -> 10%, each FMA now right behind its
// load), accepted: this kernel only runs the m = 1 products (a classifier, ~0.4% of
// MobileNet-V2's multiply-adds).
ATTOCORE_NO_PRESCHEDULE void gemm_row_16_neon(const GemmTile& t) { gemm_row<VecNeon, 4>(t); }

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
