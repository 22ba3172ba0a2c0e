// The GEMM microkernels the vector instruction sets share, written once over a vector type's
// traits (simd/vec_avx2.h, vec_avx512.h, vec_neon.h) and instantiated by each ISA's
// gemm_<isa>.cpp, under that file's compiler flags: the MR x NV-vector tile kernel and its
// indirect variant, the single-row kernel, the row kernels for a small k (two vectors per
// row) and the k-pair kernel. Per output every one does the same operations in the same
// order: bias, FMAs in k order, residual, clamp, so whichever kernel computes a row or column
// gives the same bits (k-pair kernels sum their two k phases last: they differ in the last
// bits, see DESIGN.md).
//
// Every accumulator index is a compile-time constant once the loops are unrolled, so the
// accumulators stay in registers through the k loop (a run-time index would pin them to the
// stack). Internal linkage, as in simd/: each ISA's file compiles its own copy.
#pragma once
#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "kernels/gemm/gemm.h"
#include "kernels/simd/clamp.h"

namespace attocore {
namespace {

// y (+ the residual at res, when there is one) clamped: a whole vector, or the lanes of `mask`.
template <class Vec>
__attribute__((always_inline)) inline typename Vec::V finish(typename Vec::V y, const float* res, const VecClamp<Vec>& clamp) {
  if (res) y = Vec::add(y, Vec::load(res));
  return clamp(y);
}
template <class Vec>
__attribute__((always_inline)) inline typename Vec::V finish(typename Vec::V y, const float* res, typename Vec::Mask mask,
                                                             const VecClamp<Vec>& clamp) {
  if (res) y = Vec::add(y, Vec::load_first(res, mask));
  return clamp(y);
}

// A tile's epilogue: the residual, the clamp, the rows and columns that exist.
template <class Vec, int MR, int NV>
inline void store_tile(typename Vec::V (&acc)[MR][NV], int rows, int cols, float* c_base, size_t c_stride,
                       const float* r_base, size_t r_stride, const Epilogue& ep) {
  constexpr int L = Vec::kLanes;
  const VecClamp<Vec> clamp(ep);
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
    if (r < rows) {
      float* c = c_base + size_t(r) * c_stride;
      const float* res = r_base ? r_base + size_t(r) * r_stride : nullptr;
      _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) {
        const int left = cols - L * v;
        if (left >= L) {
          Vec::store(c + L * v, finish<Vec>(acc[r][v], res ? res + L * v : nullptr, clamp));
        } else if (left > 0) {
          const typename Vec::Mask m = Vec::first(left);
          Vec::store_first(c + L * v, m, finish<Vec>(acc[r][v], res ? res + L * v : nullptr, m, clamp));
        }
      }
    }
  }
}

// A block's partial sums, stored as they are (no residual, no clamp): rows and columns that exist.
template <class Vec, int MR, int NV>
inline void store_partial(typename Vec::V (&acc)[MR][NV], int rows, int cols, float* c_base, size_t c_stride) {
  constexpr int L = Vec::kLanes;
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
    if (r < rows) {
      float* c = c_base + size_t(r) * c_stride;
      _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) {
        const int left = cols - L * v;
        if (left >= L) {
          Vec::store(c + L * v, acc[r][v]);
        } else if (left > 0) {
          Vec::store_first(c + L * v, Vec::first(left), acc[r][v]);
        }
      }
    }
  }
}

// Accumulators resumed from the partial sums store_partial left in C (zeros past the rows
// and columns that exist, which are never stored).
template <class Vec, int MR, int NV>
__attribute__((always_inline)) inline void resume_tile(typename Vec::V (&acc)[MR][NV], int rows, int cols,
                                                       const float* c_base, size_t c_stride) {
  constexpr int L = Vec::kLanes;
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
    const float* c = c_base + size_t(r) * c_stride;
    _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) {
      const int left = cols - L * v;
      acc[r][v] = r >= rows || left <= 0 ? Vec::zero()
                  : left >= L            ? Vec::load(c + L * v)
                                         : Vec::load_first(c + L * v, Vec::first(left));
    }
  }
}

// Accumulators from the panel's NV bias vectors.
template <class Vec, int MR, int NV>
__attribute__((always_inline)) inline void start_tile(typename Vec::V (&acc)[MR][NV], const float* panel) {
  _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) {
    const typename Vec::V b = Vec::load(panel + Vec::kLanes * v);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) acc[r][v] = b;
  }
}

// `count` k-steps on rows a[r][0 .. count): per step NV weight vectors from w and one
// broadcast of each row's a[r][ki]. Unrolled by 4, the bound in a local: fewer loop-control
// instructions per FMA (+10-15% measured on AVX2). Returns w past the weights read.
template <class Vec, int MR, int NV>
__attribute__((always_inline)) inline const float* k_steps(typename Vec::V (&acc)[MR][NV], const float* const (&a)[MR],
                                                           const float* w, int count) {
  using V = typename Vec::V;
  constexpr int L = Vec::kLanes;
  int ki = 0;
  if constexpr (Vec::kFmaByLane) {
    // Four k-steps per A load: one vector load per row feeds 4 x NV FMAs by lane (aarch64's
    // fmla v.4s, v.s[l]), where a broadcast load per row and k-step (ld1r) made the loop
    // load-bound on cores with one load port (Cortex-A53/A72): 6 + 8 loads per 48 FMAs
    // instead of 32 (6x8). The same FMAs in the same order: results are unchanged.
    for (; ki + 4 <= count; ki += 4) {
      V x[MR];
      _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) x[r] = Vec::load(a[r] + ki);
      _Pragma("GCC unroll 4") for (int l = 0; l < 4; ++l) {
        V b[NV];
        _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) b[v] = Vec::load(w + L * v);
        w += NV * L;
        _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r)
          _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) acc[r][v] = Vec::fma_lane(acc[r][v], b[v], x[r], l);
      }
    }
  }
  _Pragma("GCC unroll 4") for (; ki < count; ++ki) {
    V b[NV];
    _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) b[v] = Vec::load(w + L * v);
    w += NV * L;
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      const V x = Vec::broadcast(a[r] + ki);
      _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) acc[r][v] = Vec::fma(acc[r][v], x, b[v]);
    }
  }
  return w;
}

// MR x NV vectors of C (gemm.h's tile kernel).
template <class Vec, int MR, int NV>
void gemm_tile(const GemmTile& t) {
  typename Vec::V acc[MR][NV];
  start_tile<Vec, MR, NV>(acc, t.panel);
  const float* a[MR];
  for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.a_stride;  // clamp: never read past A
  k_steps<Vec, MR, NV>(acc, a, t.panel + NV * Vec::kLanes, t.k);
  store_tile<Vec, MR, NV>(acc, t.rows, t.cols, t.c, t.c_stride, t.residual, t.r_stride, t.ep);
}

// The same tile of an indirect GEMM (gemm.h): per tap the MR row pointers are reloaded and
// the cin k-steps run as in gemm_tile, the same operations per output in the same order as
// the im2col path, so either gives the same bits. On NEON the zero row holds at least cin
// floats rounded up to 16, for the 4-wide A loads.
// A call covers the k-steps [t.k_begin, t.k_end): whole taps, or part of one (gemm.h).
template <class Vec, int MR, int NV>
void igemm_tile(const GemmIndirectTile& t) {
  constexpr int NR = NV * Vec::kLanes;
  typename Vec::V acc[MR][NV];
  if (t.k_begin == 0) {
    start_tile<Vec, MR, NV>(acc, t.panel);
  } else {
    resume_tile<Vec, MR, NV>(acc, t.rows, t.cols, t.c, t.c_stride);
  }
  const float* w = t.panel + NR + size_t(t.k_begin) * NR;
  const int cin = t.cin, k_end = t.k_end;
  int tap = t.k_begin / cin, ci = t.k_begin % cin;
  for (int ki = t.k_begin; ki < k_end; ++tap, ci = 0) {
    const int count = std::min(cin - ci, k_end - ki);
    const float* a[MR];
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) a[r] = t.a[tap * MR + r] + ci;
    w = k_steps<Vec, MR, NV>(acc, a, w, count);
    ki += count;
  }
  if (k_end == t.taps * cin) {
    store_tile<Vec, MR, NV>(acc, t.rows, t.cols, t.c, t.c_stride, t.residual, t.r_stride, t.ep);
  } else {
    store_partial<Vec, MR, NV>(acc, t.rows, t.cols, t.c, t.c_stride);
  }
}

// NR = one vector on k-pair packing (gemm.h): per row, one 8-byte broadcast of
// (a[2q], a[2q+1]) feeds two FMAs (the first and second half of the outputs, each lane pair
// holding both k-steps); the pair lanes are summed once at the end (Vec::sum_pairs). Half the
// broadcasts of a plain kernel of that width, whose loads were its bound.
template <class Vec, int MR>
void gemm_pairs_tile(const GemmTile& t) {
  using V = typename Vec::V;
  constexpr int L = Vec::kLanes;
  V acc[MR][2];
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = Vec::zero();
  const float* a[MR];
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.a_stride;
  const float* w = t.panel + L;
  const int pairs = t.k / 2;
  _Pragma("GCC unroll 2") for (int q = 0; q < pairs; ++q, w += 2 * L) {
    const V b0 = Vec::load(w), b1 = Vec::load(w + L);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      const V x = Vec::broadcast_pair(a[r] + 2 * q);
      acc[r][0] = Vec::fma(acc[r][0], x, b0);
      acc[r][1] = Vec::fma(acc[r][1], x, b1);
    }
  }
  if (t.k % 2) {  // odd k: the packed partner weights are zero, so a plain broadcast works
    const V b0 = Vec::load(w), b1 = Vec::load(w + L);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      const V x = Vec::broadcast(a[r] + t.k - 1);
      acc[r][0] = Vec::fma(acc[r][0], x, b0);
      acc[r][1] = Vec::fma(acc[r][1], x, b1);
    }
  }
  const V bias = Vec::load(t.panel);
  const VecClamp<Vec> clamp(t.ep);
  const bool full = t.cols >= L;
  const typename Vec::Mask mask = Vec::first(t.cols);
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
    if (r < t.rows) {
      V y = Vec::add(bias, Vec::sum_pairs(acc[r][0], acc[r][1]));
      float* c = t.c + size_t(r) * t.c_stride;
      const float* res = t.residual ? t.residual + size_t(r) * t.r_stride : nullptr;
      if (res) y = Vec::add(y, full ? Vec::load(res) : Vec::load_first(res, mask));
      y = clamp(y);
      if (full) {
        Vec::store(c, y);
      } else {
        Vec::store_first(c, mask, y);
      }
    }
  }
}

// MR rows x every column of plain panels two vectors wide, k in [1, kMaxRowsK] (gemm.h's
// rows_for): one call instead of one per tile, for the small k of the module tails. The
// residual choice is made once per call and the clamp is a max (with -inf when the epilogue
// has no lower bound) and a min only when CLAMP_HIGH, with no branch per vector. K > 0: k fixed at compile time and the k loop fully
// unrolled, for the decompressions of the small nets (c3 = 5-8, where it was worth 5-13%);
// K == 0: k read at run time, unrolled by 8. Against a call per tile, measured on AVX2 on 49
// and 120 rows: +30-50% at k = 16-32, +2-20% at k = 40-128 (the larger modules'
// decompressions and mixes), so the bound is 128 (pack_gemm_b still drops the row kernel
// when packed B is over kRowKernelMaxBBytes). Each unrolled copy costs ~7 s in the
// sanitizer builds (64 of them took minutes), so there are only a few.
constexpr int kMaxRowsK = 128;

template <class Vec, int MR, int K, bool RESIDUAL, bool CLAMP_HIGH>
void gemm_rows_tile(const GemmTile& t) {
  using V = typename Vec::V;
  constexpr int L = Vec::kLanes, NR = 2 * L;
  const int k_count = K > 0 ? K : t.k;
  // Fields in locals: the stores below would otherwise make GCC reload them from t.
  const int rows = t.rows, cols = t.cols;
  const size_t c_stride = t.c_stride, r_stride = t.r_stride, panel_stride = t.panel_stride;
  float* const c_base = t.c;
  const float* const r_base = t.residual;
  const float* a[MR];
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < rows ? r : rows - 1) * t.a_stride;
  const V lo = Vec::set1(t.ep.min), hi = Vec::set1(t.ep.max);
  const float* panel = t.panel;
  for (int c0 = 0; c0 < cols; c0 += NR, panel += panel_stride) {
    // The row pointers are loop-invariant, so GCC would precompute all MR x K broadcast
    // addresses outside the loop and keep them on the stack (one extra load per
    // broadcast); marking the pointers as changed here keeps them as base + offset.
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) __asm__("" : "+r"(a[r]));
    V acc[MR][2];
    const V bias0 = Vec::load(panel), bias1 = Vec::load(panel + L);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) acc[r][0] = bias0, acc[r][1] = bias1;
    _Pragma("GCC unroll 8") for (int k = 0; k < k_count; ++k) {
      const V b0 = Vec::load(panel + NR * (k + 1)), b1 = Vec::load(panel + NR * (k + 1) + L);
      _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
        const V x = Vec::broadcast(a[r] + k);
        acc[r][0] = Vec::fma(acc[r][0], x, b0);
        acc[r][1] = Vec::fma(acc[r][1], x, b1);
      }
    }
    const int left = cols - c0;
    auto store = [&](auto full) {
      const typename Vec::Mask m0 = Vec::first(left), m1 = Vec::first(left - L);
      // Walked row by row from opaque starts, for the same reason as the row pointers.
      float* c = c_base + c0;
      const float* res = r_base + c0;
      __asm__("" : "+r"(c), "+r"(res));
      _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r, c += c_stride, res += r_stride) {
        if (r < rows) {
          V y0 = acc[r][0], y1 = acc[r][1];
          if (full) {
            if (RESIDUAL) y0 = Vec::add(y0, Vec::load(res)), y1 = Vec::add(y1, Vec::load(res + L));
            y0 = Vec::max(y0, lo), y1 = Vec::max(y1, lo);
            if (CLAMP_HIGH) y0 = Vec::min(y0, hi), y1 = Vec::min(y1, hi);
            Vec::store(c, y0);
            Vec::store(c + L, y1);
          } else {
            if (RESIDUAL)
              y0 = Vec::add(y0, Vec::load_first(res, m0)), y1 = Vec::add(y1, Vec::load_first(res + L, m1));
            y0 = Vec::max(y0, lo), y1 = Vec::max(y1, lo);
            if (CLAMP_HIGH) y0 = Vec::min(y0, hi), y1 = Vec::min(y1, hi);
            Vec::store_first(c, m0, y0);
            Vec::store_first(c + L, m1, y1);
          }
        }
      }
    };
    if (left >= NR) {
      store(std::true_type{});
    } else {  // the last, narrower panel
      store(std::false_type{});
    }
  }
}

template <class Vec, int MR, int K>
void gemm_rows_k(const GemmTile& t) {
  const bool high = t.ep.clamps_max();
  if (t.residual) {
    high ? gemm_rows_tile<Vec, MR, K, true, true>(t) : gemm_rows_tile<Vec, MR, K, true, false>(t);
  } else {
    high ? gemm_rows_tile<Vec, MR, K, false, true>(t) : gemm_rows_tile<Vec, MR, K, false, false>(t);
  }
}

// The MR-row kernel for k: unrolled for k = 5-8, read at run time up to kMaxRowsK.
template <class Vec, int MR>
GemmUkernel gemm_rows_for(int k) {
  switch (k) {
    case 5: return gemm_rows_k<Vec, MR, 5>;
    case 6: return gemm_rows_k<Vec, MR, 6>;
    case 7: return gemm_rows_k<Vec, MR, 7>;
    case 8: return gemm_rows_k<Vec, MR, 8>;
    default: return k >= 1 && k <= kMaxRowsK ? gemm_rows_k<Vec, MR, 0> : nullptr;
  }
}

// The fewer-rows kernel's, k read at run time (see kMaxRowsK on the cost of unrolled
// copies). None for k = 5-8, where the unrolled full-row kernels alone measured faster (112
// rows at k = 8 on AVX2: 4%) than full and fewer-row tiles mixed so that none is padded.
template <class Vec, int MR>
GemmUkernel gemm_fewer_rows_for(int k) {
  return k >= 1 && k <= kMaxRowsK && (k < 5 || k > 8) ? gemm_rows_k<Vec, MR, 0> : nullptr;
}

// One row across NP plain panels of NV vectors (gemm.h's single_row): NP x NV accumulators,
// each weight loaded once. Per column the operations of gemm_tile: bias, FMAs in k order,
// residual, clamp.
template <class Vec, int NP, int NV>
void row_panels(const GemmTile& t, int first_panel) {
  using V = typename Vec::V;
  constexpr int L = Vec::kLanes, NR = NV * L;
  const float* w[NP];
  V acc[NP][NV];
  _Pragma("GCC unroll 8") for (int p = 0; p < NP; ++p) {
    w[p] = t.panel + size_t(first_panel + p) * t.panel_stride;
    _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) acc[p][v] = Vec::load(w[p] + L * v);
    w[p] += NR;
  }
  const float* a = t.a;
  const int k = t.k;
  _Pragma("GCC unroll 2") for (int ki = 0; ki < k; ++ki) {
    const V x = Vec::broadcast(a + ki);
    _Pragma("GCC unroll 8") for (int p = 0; p < NP; ++p)
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v)
        acc[p][v] = Vec::fma(acc[p][v], x, Vec::load(w[p] + NR * size_t(ki) + L * v));
  }
  const VecClamp<Vec> clamp(t.ep);
  _Pragma("GCC unroll 8") for (int p = 0; p < NP; ++p) {
    _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) {
      const int col = (first_panel + p) * NR + L * v, left = t.cols - col;
      if (left <= 0) break;
      const typename Vec::Mask mask = Vec::first(left);
      V y = acc[p][v];
      if (t.residual) y = Vec::add(y, left >= L ? Vec::load(t.residual + col) : Vec::load_first(t.residual + col, mask));
      y = clamp(y);
      if (left >= L) {
        Vec::store(t.c + col, y);
      } else {
        Vec::store_first(t.c + col, mask, y);
      }
    }
  }
}

// The single-row kernel: 4 panels (8 or 16 accumulators: enough to cover the FMA latency)
// per pass, the rest together.
template <class Vec, int NV>
void gemm_row(const GemmTile& t) {
  constexpr int NR = NV * Vec::kLanes;
  const int panels = (t.cols + NR - 1) / NR;
  int p = 0;
  for (; p + 4 <= panels; p += 4) row_panels<Vec, 4, NV>(t, p);
  switch (panels - p) {
    case 3: row_panels<Vec, 3, NV>(t, p); break;
    case 2: row_panels<Vec, 2, NV>(t, p); break;
    case 1: row_panels<Vec, 1, NV>(t, p); break;
    default: break;
  }
}

}  // namespace
}  // namespace attocore
