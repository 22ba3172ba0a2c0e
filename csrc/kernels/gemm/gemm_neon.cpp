// NEON GEMM microkernels (aarch64, and ARMv7 with neon-vfpv4 for vfmaq_f32).
// 6x8 keeps 12 accumulators (fits ARMv7's 16 q registers); 4x16 uses 16.
#include <arm_neon.h>

#include "kernels/eltwise/activation.h"
#include "kernels/gemm/gemm.h"
#include "kernels/gemm/gemm_neon.h"

namespace attocore {
namespace {

#if defined(__aarch64__)
// acc + b * x[lane]; the lane must be a constant, so the loop index is dispatched here
// (each case folds away once the caller's lane loop is unrolled).
inline float32x4_t fma_lane(float32x4_t acc, float32x4_t b, float32x4_t x, int lane) {
  switch (lane) {
    case 0: return vfmaq_laneq_f32(acc, b, x, 0);
    case 1: return vfmaq_laneq_f32(acc, b, x, 1);
    case 2: return vfmaq_laneq_f32(acc, b, x, 2);
    default: return vfmaq_laneq_f32(acc, b, x, 3);
  }
}
#endif

// A tile's epilogue: the residual, the activation, the rows and columns that exist. Constant
// acc indices after unrolling keep the accumulators in registers through the k loop.
template <int MR, int NV>
inline void store_tile(float32x4_t (&acc)[MR][NV], int rows, int cols, float* c_base, size_t c_stride,
                       const float* r_base, size_t r_stride, Activation act) {
  const float32x4_t zero = vdupq_n_f32(0.f), six = vdupq_n_f32(6.f);
  auto finish = [&](float32x4_t y, const float* res) {
    if (res) y = vaddq_f32(y, vld1q_f32(res));
    if (act != Activation::kNone) y = vmaxq_f32(y, zero);
    if (act == Activation::kRelu6) y = vminq_f32(y, six);
    return y;
  };
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
    if (r < rows) {
      float* c = c_base + size_t(r) * c_stride;
      const float* res = r_base ? r_base + size_t(r) * r_stride : nullptr;
      _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) {
        const int left = cols - 4 * v;
        if (left >= 4) {
          vst1q_f32(c + 4 * v, finish(acc[r][v], res ? res + 4 * v : nullptr));
        } else if (left > 0) {
          float lanes[4];
          vst1q_f32(lanes, acc[r][v]);
          for (int j = 0; j < left; ++j) c[4 * v + j] = activate(act, lanes[j] + (res ? res[4 * v + j] : 0.f));
        }
      }
    }
  }
}

// Accumulators from the panel's NV bias vectors.
template <int MR, int NV>
__attribute__((always_inline)) inline void start_tile(float32x4_t (&acc)[MR][NV], const float* panel) {
  _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) {
    const float32x4_t b = vld1q_f32(panel + 4 * v);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) acc[r][v] = b;
  }
}

// `count` k-steps on rows a[r][0 .. count): per step NV weight quads from w. Returns w past
// the weights read.
template <int MR, int NV>
__attribute__((always_inline)) inline const float* k_steps(float32x4_t (&acc)[MR][NV],
                                                           const float* const (&a)[MR], const float* w, int count) {
  constexpr int NR = NV * 4;
  int ki = 0;
#if defined(__aarch64__)
  // Four k-steps per A load: one 128-bit load per row feeds 4 x NV FMAs by lane (fmla
  // v.4s, v.s[l]), where a broadcast load per row and k-step (ld1r) made the loop
  // load-bound on cores with one load port (Cortex-A53/A72): 6 + 8 loads per 48 FMAs
  // instead of 32 (6x8). The same FMAs in the same order: results are unchanged.
  for (; ki + 4 <= count; ki += 4) {
    float32x4_t x[MR];
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) x[r] = vld1q_f32(a[r] + ki);
    _Pragma("GCC unroll 4") for (int l = 0; l < 4; ++l) {
      float32x4_t b[NV];
      _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) b[v] = vld1q_f32(w + 4 * v);
      w += NR;
      _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r)
        _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) acc[r][v] = fma_lane(acc[r][v], b[v], x[r], l);
    }
  }
#endif
  // A local bound and an unrolled loop: fewer loop-control instructions per FMA.
  _Pragma("GCC unroll 4") for (; ki < count; ++ki) {
    float32x4_t b[NV];
    _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) b[v] = vld1q_f32(w + 4 * v);
    w += NR;
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      const float32x4_t x = vdupq_n_f32(a[r][ki]);
      _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) acc[r][v] = vfmaq_f32(acc[r][v], x, b[v]);
    }
  }
  return w;
}

template <int MR, int NV>
void gemm_neon(const GemmTile& t) {
  float32x4_t acc[MR][NV];
  start_tile<MR, NV>(acc, t.panel);
  const float* a[MR];
  for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.a_stride;
  k_steps<MR, NV>(acc, a, t.panel + NV * 4, t.k);
  store_tile<MR, NV>(acc, t.rows, t.cols, t.c, t.c_stride, t.residual, t.r_stride, t.act);
}

// MR x NV*4 of an indirect GEMM (gemm.h): per tap, the MR row pointers are reloaded and the
// cin k-steps run as in gemm_neon (the same operations per output, in the same order, as the
// im2col path). The zero row holds at least cin floats rounded up to 16, for the 4-wide loads.
template <int MR, int NV>
void igemm_neon(const GemmIndirectTile& t) {
  float32x4_t acc[MR][NV];
  start_tile<MR, NV>(acc, t.panel);
  const float* w = t.panel + NV * 4;
  for (int tap = 0; tap < t.taps; ++tap) {
    const float* a[MR];
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) a[r] = t.a[tap * MR + r];
    w = k_steps<MR, NV>(acc, a, w, t.cin);
  }
  store_tile<MR, NV>(acc, t.rows, t.cols, t.c, t.c_stride, t.residual, t.r_stride, t.act);
}

#if defined(__aarch64__)
// 4 rows x every column on plain NR = 16 panels for a compile-time k <= 8 (a small net's
// decompression, k = c3 = 5-8): the rows' k values stay in registers for the whole sweep
// (8 of 32), so each 4 x 16 block costs only its k B loads and its epilogue, where a call
// per tile re-loaded A and paid the call's entry for k FMAs per accumulator (on AVX2 the
// same idea took AttoNet-D's decompression from 12 to ~22 G multiply-adds/s).
template <int K, bool RESIDUAL>
void gemm_rows_neon(const GemmTile& t) {
  constexpr int MR = 4, KV = (K + 3) / 4;
  const int rows = t.rows, cols = t.cols;
  float32x4_t av[MR][KV];
  _Pragma("GCC unroll 4") for (int r = 0; r < MR; ++r) {
    const float* a = t.a + size_t(r < rows ? r : rows - 1) * t.a_stride;
    float lanes[4 * KV] = {};  // copied, not loaded whole: the row may end at the buffer's end
    for (int i = 0; i < K; ++i) lanes[i] = a[i];
    _Pragma("GCC unroll 2") for (int j = 0; j < KV; ++j) av[r][j] = vld1q_f32(lanes + 4 * j);
  }
  const float32x4_t lo = vdupq_n_f32(t.act == Activation::kNone ? -__builtin_inff() : 0.f);
  const float32x4_t hi = vdupq_n_f32(t.act == Activation::kRelu6 ? 6.f : __builtin_inff());
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
        _Pragma("GCC unroll 4") for (int v = 0; v < 4; ++v) acc[r][v] = fma_lane(acc[r][v], b[v], av[r][k / 4], k % 4);
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
            c[4 * v + j] = activate(t.act, out[j] + (RESIDUAL ? res[4 * v + j] : 0.f));
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

// One row across NP plain panels of NV quads (gemm.h's single_row): NP x NV accumulators,
// each weight loaded once. Per column the operations of gemm_neon: bias, FMAs in k order,
// residual, activation.
template <int NP, int NV>
void row_panels_neon(const GemmTile& t, int first_panel) {
  constexpr int NR = NV * 4;
  const float* w[NP];
  float32x4_t acc[NP][NV];
  _Pragma("GCC unroll 8") for (int p = 0; p < NP; ++p) {
    w[p] = t.panel + size_t(first_panel + p) * t.panel_stride;
    _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) acc[p][v] = vld1q_f32(w[p] + 4 * v);
    w[p] += NR;
  }
  const int k = t.k;
  for (int ki = 0; ki < k; ++ki) {
    const float32x4_t x = vdupq_n_f32(t.a[ki]);
    _Pragma("GCC unroll 8") for (int p = 0; p < NP; ++p)
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v)
        acc[p][v] = vfmaq_f32(acc[p][v], x, vld1q_f32(w[p] + size_t(ki) * NR + 4 * v));
  }
  const float32x4_t zero = vdupq_n_f32(0.f), six = vdupq_n_f32(6.f);
  _Pragma("GCC unroll 8") for (int p = 0; p < NP; ++p) {
    _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) {
      const int col = (first_panel + p) * NR + 4 * v, left = t.cols - col;
      const float* res = t.residual ? t.residual + col : nullptr;
      if (left >= 4) {
        float32x4_t y = acc[p][v];
        if (res) y = vaddq_f32(y, vld1q_f32(res));
        if (t.act != Activation::kNone) y = vmaxq_f32(y, zero);
        if (t.act == Activation::kRelu6) y = vminq_f32(y, six);
        vst1q_f32(t.c + col, y);
      } else if (left > 0) {
        float lanes[4];
        vst1q_f32(lanes, acc[p][v]);
        for (int j = 0; j < left; ++j) t.c[col + j] = activate(t.act, lanes[j] + (res ? res[j] : 0.f));
      }
    }
  }
}

// 4 panels per pass, the rest together.
template <int NV>
void gemm_row_neon(const GemmTile& t) {
  const int panels = (t.cols + NV * 4 - 1) / (NV * 4);
  int p = 0;
  for (; p + 4 <= panels; p += 4) row_panels_neon<4, NV>(t, p);
  switch (panels - p) {
    case 3: row_panels_neon<3, NV>(t, p); break;
    case 2: row_panels_neon<2, NV>(t, p); break;
    case 1: row_panels_neon<1, NV>(t, p); break;
    default: break;
  }
}

}  // namespace

#if defined(__aarch64__)
void gemm_row_16_neon(const GemmTile& t) { gemm_row_neon<4>(t); }
#endif
void gemm_row_8_neon(const GemmTile& t) { gemm_row_neon<2>(t); }

#if defined(__aarch64__)
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
#endif

void gemm_6x8_neon(const GemmTile& t) { gemm_neon<6, 2>(t); }
void gemm_4x16_neon(const GemmTile& t) { gemm_neon<4, 4>(t); }
void igemm_6x8_neon(const GemmIndirectTile& t) { igemm_neon<6, 2>(t); }
void igemm_4x16_neon(const GemmIndirectTile& t) { igemm_neon<4, 4>(t); }

}  // namespace attocore
