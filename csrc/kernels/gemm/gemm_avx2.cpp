// AVX2+FMA GEMM microkernels (compiled with -mavx2 -mfma; called only when cpuid says so).
// MR rows x NV 8-wide vectors: per k, one broadcast of A per row and NV loads of B.
#include <immintrin.h>

#include <type_traits>

#include "kernels/gemm/gemm.h"
#include "kernels/gemm/gemm_avx2.h"

namespace attocore {
namespace {

inline __m256i tail_mask(int n) {  // lanes [0, n) set
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

// A tile's epilogue: the residual, the activation, the rows and columns that exist. Every acc
// index is a compile-time constant once unrolled, so the accumulators stay in registers
// through the caller's k loop (a runtime index would pin them to the stack).
template <int MR, int NV>
inline void store_tile(__m256 (&acc)[MR][NV], int rows, int cols, float* c_base, size_t c_stride,
                       const float* r_base, size_t r_stride, Activation act) {
  const __m256 zero = _mm256_setzero_ps(), six = _mm256_set1_ps(6.f);
  auto finish = [&](__m256 y, const float* res, const __m256i* mask) {
    if (res) y = _mm256_add_ps(y, mask ? _mm256_maskload_ps(res, *mask) : _mm256_loadu_ps(res));
    if (act != Activation::kNone) y = _mm256_max_ps(y, zero);
    if (act == Activation::kRelu6) y = _mm256_min_ps(y, six);
    return y;
  };
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
    if (r < rows) {
      float* c = c_base + size_t(r) * c_stride;
      const float* res = r_base ? r_base + size_t(r) * r_stride : nullptr;
      _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) {
        const int left = cols - 8 * v;
        if (left >= 8) {
          _mm256_storeu_ps(c + 8 * v, finish(acc[r][v], res ? res + 8 * v : nullptr, nullptr));
        } else if (left > 0) {
          const __m256i m = tail_mask(left);
          _mm256_maskstore_ps(c + 8 * v, m, finish(acc[r][v], res ? res + 8 * v : nullptr, &m));
        }
      }
    }
  }
}

// Accumulators from the panel's NV bias vectors.
template <int MR, int NV>
__attribute__((always_inline)) inline void start_tile(__m256 (&acc)[MR][NV], const float* panel) {
  _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) {
    const __m256 b = _mm256_loadu_ps(panel + 8 * v);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) acc[r][v] = b;
  }
}

// `count` k-steps: per step NV weight vectors from w and one broadcast of each row's a[r][ki].
// Unrolled by 4, the bound in a local: fewer loop-control uops per FMA (+10-15% measured).
// Returns w past the weights read.
template <int MR, int NV>
__attribute__((always_inline)) inline const float* k_steps(__m256 (&acc)[MR][NV], const float* const (&a)[MR],
                                                           const float* w, int count) {
  _Pragma("GCC unroll 4") for (int ki = 0; ki < count; ++ki) {
    __m256 b[NV];
    _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) b[v] = _mm256_loadu_ps(w + 8 * v);
    w += NV * 8;
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      const __m256 x = _mm256_broadcast_ss(a[r] + ki);
      _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(x, b[v], acc[r][v]);
    }
  }
  return w;
}

template <int MR, int NV>
void gemm_avx2(const GemmTile& t) {
  __m256 acc[MR][NV];
  start_tile<MR, NV>(acc, t.panel);
  const float* a[MR];
  for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.a_stride;  // clamp: never read past A
  k_steps<MR, NV>(acc, a, t.panel + NV * 8, t.k);
  store_tile<MR, NV>(acc, t.rows, t.cols, t.c, t.c_stride, t.residual, t.r_stride, t.act);
}

// MR x NV*8 of an indirect GEMM (gemm.h): per tap, the MR row pointers are reloaded and the
// cin k-steps run as in gemm_avx2; the same operations per output in the same order as the
// im2col path (bias, k in order, residual, activation), so either gives the same bits.
template <int MR, int NV>
void igemm_avx2(const GemmIndirectTile& t) {
  __m256 acc[MR][NV];
  start_tile<MR, NV>(acc, t.panel);
  const float* w = t.panel + NV * 8;
  for (int tap = 0; tap < t.taps; ++tap) {
    const float* a[MR];
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) a[r] = t.a[tap * MR + r];
    w = k_steps<MR, NV>(acc, a, w, t.cin);
  }
  store_tile<MR, NV>(acc, t.rows, t.cols, t.c, t.c_stride, t.residual, t.r_stride, t.act);
}

// NR = 8 on k-pair packing: per row, one 8-byte broadcast of (a[2q], a[2q+1]) feeds two
// FMAs (outputs 0-3 and 4-7, each lane pair holding both k-steps); the pair lanes are
// summed once at the end.
template <int MR>
void gemm_pairs_avx2(const GemmTile& t) {
  __m256 acc[MR][2];
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  const float* a[MR];
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.a_stride;
  const float* w = t.panel + 8;
  const int pairs = t.k / 2;
  _Pragma("GCC unroll 2") for (int q = 0; q < pairs; ++q, w += 16) {
    const __m256 b0 = _mm256_loadu_ps(w), b1 = _mm256_loadu_ps(w + 8);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      const __m256 x = _mm256_castpd_ps(_mm256_broadcast_sd(reinterpret_cast<const double*>(a[r] + 2 * q)));
      acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
    }
  }
  if (t.k % 2) {  // odd k: the packed partner weights are zero, so a plain broadcast works
    const __m256 b0 = _mm256_loadu_ps(w), b1 = _mm256_loadu_ps(w + 8);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      const __m256 x = _mm256_broadcast_ss(a[r] + t.k - 1);
      acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
    }
  }
  const __m256 bias = _mm256_loadu_ps(t.panel);
  const __m256 zero = _mm256_setzero_ps(), six = _mm256_set1_ps(6.f);
  const bool full = t.cols == 8;
  const __m256i mask = tail_mask(t.cols);
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
    if (r < t.rows) {
      // hadd -> [o0 o1 o4 o5 | o2 o3 o6 o7]; the 64-bit permute restores o0..o7.
      const __m256 h = _mm256_hadd_ps(acc[r][0], acc[r][1]);
      __m256 y = _mm256_add_ps(bias, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(h), _MM_SHUFFLE(3, 1, 2, 0))));
      float* c = t.c + size_t(r) * t.c_stride;
      const float* res = t.residual ? t.residual + size_t(r) * t.r_stride : nullptr;
      if (res) y = _mm256_add_ps(y, full ? _mm256_loadu_ps(res) : _mm256_maskload_ps(res, mask));
      if (t.act != Activation::kNone) y = _mm256_max_ps(y, zero);
      if (t.act == Activation::kRelu6) y = _mm256_min_ps(y, six);
      if (full) {
        _mm256_storeu_ps(c, y);
      } else {
        _mm256_maskstore_ps(c, mask, y);
      }
    }
  }
}

// MR (6 or 5) rows x every column on plain NR = 16 panels, k in [1, kMaxRowsK]: the residual choice
// is made once per call and the activation is a max (and a min for ReLU6 only) with no
// branch per vector. K > 0: k fixed at compile time and the k loop fully unrolled, for the
// decompressions of the small nets (c3 = 5-8, where it was worth 5-13%); K == 0: k read at
// run time, unrolled by 8. Against a call per 6x16 tile, measured on 49 and 120 rows:
// +30-50% at k = 16-32, +2-20% at k = 40-128 (the larger modules' decompressions and
// mixes), so the bound is 128 (pack_gemm_b still drops the row kernel when packed B is
// over kRowKernelMaxBBytes).
// Each unrolled copy costs ~7 s in the sanitizer builds (64 of them took minutes), so
// there are only these few.
constexpr int kMaxRowsK = 128;

template <int MR, int K, bool RESIDUAL, bool CLAMP_HIGH>
void gemm_rows_avx2(const GemmTile& t) {
  const int k_count = K > 0 ? K : t.k;
  // Fields in locals: the stores below would otherwise make GCC reload them from t.
  const int rows = t.rows, cols = t.cols;
  const size_t c_stride = t.c_stride, r_stride = t.r_stride, panel_stride = t.panel_stride;
  float* const c_base = t.c;
  const float* const r_base = t.residual;
  const float* a[MR];
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < rows ? r : rows - 1) * t.a_stride;
  const float inf = __builtin_inff();
  const __m256 lo = _mm256_set1_ps(t.act == Activation::kNone ? -inf : 0.f);
  const __m256 hi = _mm256_set1_ps(t.act == Activation::kRelu6 ? 6.f : inf);
  const float* panel = t.panel;
  for (int c0 = 0; c0 < cols; c0 += 16, panel += panel_stride) {
    // The row pointers are loop-invariant, so GCC would precompute all MR x K broadcast
    // addresses outside the loop and keep them on the stack (one extra load per
    // broadcast); marking the pointers as changed here keeps them as base + offset.
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) __asm__("" : "+r"(a[r]));
    __m256 acc[MR][2];
    const __m256 bias0 = _mm256_loadu_ps(panel), bias1 = _mm256_loadu_ps(panel + 8);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) acc[r][0] = bias0, acc[r][1] = bias1;
    _Pragma("GCC unroll 8") for (int k = 0; k < k_count; ++k) {
      const __m256 b0 = _mm256_loadu_ps(panel + 16 * (k + 1)), b1 = _mm256_loadu_ps(panel + 16 * (k + 1) + 8);
      _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
        const __m256 x = _mm256_broadcast_ss(a[r] + k);
        acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
      }
    }
    const int left = cols - c0;
    auto store = [&](auto full) {
      const __m256i m0 = tail_mask(left), m1 = tail_mask(left - 8);
      // Walked row by row from opaque starts, for the same reason as the row pointers.
      float* c = c_base + c0;
      const float* res = r_base + c0;
      __asm__("" : "+r"(c), "+r"(res));
      _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r, c += c_stride, res += r_stride) {
        if (r < rows) {
          __m256 y0 = acc[r][0], y1 = acc[r][1];
          if (full) {
            if (RESIDUAL) y0 = _mm256_add_ps(y0, _mm256_loadu_ps(res)), y1 = _mm256_add_ps(y1, _mm256_loadu_ps(res + 8));
            y0 = _mm256_max_ps(y0, lo), y1 = _mm256_max_ps(y1, lo);
            if (CLAMP_HIGH) y0 = _mm256_min_ps(y0, hi), y1 = _mm256_min_ps(y1, hi);
            _mm256_storeu_ps(c, y0);
            _mm256_storeu_ps(c + 8, y1);
          } else {
            if (RESIDUAL)
              y0 = _mm256_add_ps(y0, _mm256_maskload_ps(res, m0)), y1 = _mm256_add_ps(y1, _mm256_maskload_ps(res + 8, m1));
            y0 = _mm256_max_ps(y0, lo), y1 = _mm256_max_ps(y1, lo);
            if (CLAMP_HIGH) y0 = _mm256_min_ps(y0, hi), y1 = _mm256_min_ps(y1, hi);
            _mm256_maskstore_ps(c, m0, y0);
            _mm256_maskstore_ps(c + 8, m1, y1);
          }
        }
      }
    };
    if (left >= 16) {
      store(std::true_type{});
    } else {  // the last, narrower panel
      store(std::false_type{});
    }
  }
}

template <int MR, int K>
void gemm_rows_avx2_k(const GemmTile& t) {
  const bool relu6 = t.act == Activation::kRelu6;
  if (t.residual) {
    relu6 ? gemm_rows_avx2<MR, K, true, true>(t) : gemm_rows_avx2<MR, K, true, false>(t);
  } else {
    relu6 ? gemm_rows_avx2<MR, K, false, true>(t) : gemm_rows_avx2<MR, K, false, false>(t);
  }
}

// One row across NP plain NR = 16 panels (gemm.h's single_row): 2 x NP accumulators, each
// weight loaded once. Per column the operations of gemm_avx2: bias, FMAs in k order,
// residual, activation.
template <int NP>
void row_panels_avx2(const GemmTile& t, int first_panel) {
  const float* w[NP];
  __m256 acc[NP][2];
  _Pragma("GCC unroll 8") for (int p = 0; p < NP; ++p) {
    w[p] = t.panel + size_t(first_panel + p) * t.panel_stride;
    acc[p][0] = _mm256_loadu_ps(w[p]), acc[p][1] = _mm256_loadu_ps(w[p] + 8);
    w[p] += 16;
  }
  const float* a = t.a;
  const int k = t.k;
  _Pragma("GCC unroll 2") for (int ki = 0; ki < k; ++ki) {
    const __m256 x = _mm256_broadcast_ss(a + ki);
    _Pragma("GCC unroll 8") for (int p = 0; p < NP; ++p) {
      acc[p][0] = _mm256_fmadd_ps(x, _mm256_loadu_ps(w[p] + 16 * size_t(ki)), acc[p][0]);
      acc[p][1] = _mm256_fmadd_ps(x, _mm256_loadu_ps(w[p] + 16 * size_t(ki) + 8), acc[p][1]);
    }
  }
  const __m256 zero = _mm256_setzero_ps(), six = _mm256_set1_ps(6.f);
  _Pragma("GCC unroll 8") for (int p = 0; p < NP; ++p) {
    _Pragma("GCC unroll 2") for (int v = 0; v < 2; ++v) {
      const int col = (first_panel + p) * 16 + 8 * v, left = t.cols - col;
      if (left <= 0) break;
      const __m256i mask = tail_mask(left);
      __m256 y = acc[p][v];
      if (t.residual) y = _mm256_add_ps(y, left >= 8 ? _mm256_loadu_ps(t.residual + col) : _mm256_maskload_ps(t.residual + col, mask));
      if (t.act != Activation::kNone) y = _mm256_max_ps(y, zero);
      if (t.act == Activation::kRelu6) y = _mm256_min_ps(y, six);
      if (left >= 8) {
        _mm256_storeu_ps(t.c + col, y);
      } else {
        _mm256_maskstore_ps(t.c + col, mask, y);
      }
    }
  }
}

}  // namespace

// 4 panels (8 accumulators: enough to cover the FMA latency) per pass, the rest together.
void gemm_row_16_avx2(const GemmTile& t) {
  const int panels = (t.cols + 15) / 16;
  int p = 0;
  for (; p + 4 <= panels; p += 4) row_panels_avx2<4>(t, p);
  switch (panels - p) {
    case 3: row_panels_avx2<3>(t, p); break;
    case 2: row_panels_avx2<2>(t, p); break;
    case 1: row_panels_avx2<1>(t, p); break;
    default: break;
  }
}

GemmUkernel gemm_rows_6x16_avx2(int k) {
  switch (k) {
    case 5: return gemm_rows_avx2_k<6, 5>;
    case 6: return gemm_rows_avx2_k<6, 6>;
    case 7: return gemm_rows_avx2_k<6, 7>;
    case 8: return gemm_rows_avx2_k<6, 8>;
    default: return k >= 1 && k <= kMaxRowsK ? gemm_rows_avx2_k<6, 0> : nullptr;
  }
}

// The 5-row kernel's, k read at run time (see kMaxRowsK on the cost of unrolled copies). None
// for k = 5-8, where the unrolled 6-row kernels alone measured faster (112 rows at k = 8: 4%)
// than 6-row and 5-row tiles mixed so that none is padded.
GemmUkernel gemm_rows_5x16_avx2(int k) {
  return k >= 1 && k <= kMaxRowsK && (k < 5 || k > 8) ? gemm_rows_avx2_k<5, 0> : nullptr;
}

void gemm_6x8_pairs_avx2(const GemmTile& t) { gemm_pairs_avx2<6>(t); }

void gemm_6x16_avx2(const GemmTile& t) { gemm_avx2<6, 2>(t); }

void gemm_5x16_avx2(const GemmTile& t) { gemm_avx2<5, 2>(t); }

void igemm_6x16_avx2(const GemmIndirectTile& t) { igemm_avx2<6, 2>(t); }

}  // namespace attocore
