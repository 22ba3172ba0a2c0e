// AVX-512F GEMM microkernels (compiled with -mavx512f; called only when cpuid and the OS say
// the zmm state is usable). The AVX2 kernels' shapes with 16-lane vectors: MR rows x NV
// zmm vectors, per k one broadcast of A per row and NV loads of B; the last vector of a
// panel is masked instead of padded. Per output the operations of the AVX2 plain kernels in
// the same order (bias, FMAs in k order, residual, activation); a column that one path's
// panel cut gives to the k-pair kernel (summed in another order) differs in its last bits.
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "kernels/gemm/gemm.h"
#include "kernels/gemm/gemm_avx512.h"

namespace attocore {
namespace {

inline __mmask16 lanes(int n) {  // lanes [0, n) set, n clamped to [0, 16]
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// The activation as the AVX2 kernels apply it (so a NaN comes out the same): the tile
// kernels take no max at all for none; the row kernels a max with -inf.
struct Clamp {
  __m512 lo, hi;
  bool any, high;
  explicit Clamp(Activation act)
      : lo(_mm512_set1_ps(act == Activation::kNone ? -__builtin_inff() : 0.f)),
        hi(_mm512_set1_ps(6.f)),
        any(act != Activation::kNone),
        high(act == Activation::kRelu6) {}
  __m512 tile(__m512 y) const {  // gemm_avx2's store_tile
    if (any) y = _mm512_max_ps(y, lo);
    return high ? _mm512_min_ps(y, hi) : y;
  }
  __m512 operator()(__m512 y) const {  // gemm_rows_avx2's store
    y = _mm512_max_ps(y, lo);
    return high ? _mm512_min_ps(y, hi) : y;
  }
};

// A tile's epilogue: residual, activation, the rows and columns that exist (acc indices are
// compile-time constants once unrolled, so the accumulators stay in registers).
template <int MR, int NV>
inline void store_tile(__m512 (&acc)[MR][NV], int rows, int cols, float* c_base, size_t c_stride,
                       const float* r_base, size_t r_stride, Activation act) {
  const Clamp clamp(act);
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
    if (r < rows) {
      float* c = c_base + size_t(r) * c_stride;
      const float* res = r_base ? r_base + size_t(r) * r_stride : nullptr;
      _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) {
        const int left = cols - 16 * v;
        if (left <= 0) continue;
        const __mmask16 m = lanes(left);
        __m512 y = acc[r][v];
        if (res) y = _mm512_add_ps(y, left >= 16 ? _mm512_loadu_ps(res + 16 * v) : _mm512_maskz_loadu_ps(m, res + 16 * v));
        y = clamp.tile(y);
        if (left >= 16) {
          _mm512_storeu_ps(c + 16 * v, y);
        } else {
          _mm512_mask_storeu_ps(c + 16 * v, m, y);
        }
      }
    }
  }
}

// Accumulators from the panel's NV bias vectors.
template <int MR, int NV>
__attribute__((always_inline)) inline void start_tile(__m512 (&acc)[MR][NV], const float* panel) {
  _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) {
    const __m512 b = _mm512_loadu_ps(panel + 16 * v);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) acc[r][v] = b;
  }
}

// `count` k-steps: per step NV weight vectors from w and one broadcast of each row's a[r][ki].
// Returns w past the weights read.
template <int MR, int NV>
__attribute__((always_inline)) inline const float* k_steps(__m512 (&acc)[MR][NV], const float* const (&a)[MR],
                                                           const float* w, int count) {
  _Pragma("GCC unroll 4") for (int ki = 0; ki < count; ++ki) {
    __m512 b[NV];
    _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) b[v] = _mm512_loadu_ps(w + 16 * v);
    w += NV * 16;
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      const __m512 x = _mm512_set1_ps(a[r][ki]);
      _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(x, b[v], acc[r][v]);
    }
  }
  return w;
}

template <int MR, int NV>
void gemm_avx512(const GemmTile& t) {
  __m512 acc[MR][NV];
  start_tile<MR, NV>(acc, t.panel);
  const float* a[MR];
  for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.a_stride;  // clamp: never read past A
  k_steps<MR, NV>(acc, a, t.panel + NV * 16, t.k);
  store_tile<MR, NV>(acc, t.rows, t.cols, t.c, t.c_stride, t.residual, t.r_stride, t.act);
}

// The indirect tile (gemm.h): per tap the MR row pointers are reloaded and the cin k-steps run
// as in gemm_avx512, so it gives the im2col path's bits.
template <int MR, int NV>
void igemm_avx512(const GemmIndirectTile& t) {
  __m512 acc[MR][NV];
  start_tile<MR, NV>(acc, t.panel);
  const float* w = t.panel + NV * 16;
  for (int tap = 0; tap < t.taps; ++tap) {
    const float* a[MR];
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) a[r] = t.a[tap * MR + r];
    w = k_steps<MR, NV>(acc, a, w, t.cin);
  }
  store_tile<MR, NV>(acc, t.rows, t.cols, t.c, t.c_stride, t.residual, t.r_stride, t.act);
}

// NR = 16 on k-pair packing (gemm.h): per row, one 8-byte broadcast of (a[2q], a[2q+1])
// feeds two FMAs (outputs 0-7 and 8-15, each lane pair holding both k-steps): half the
// broadcasts of a plain 16-wide kernel, whose 7 loads per 6 FMAs were the bound. The pair
// lanes are summed once at the end, as the AVX2 k-pair kernel does.
template <int MR>
void gemm_pairs16_avx512(const GemmTile& t) {
  __m512 acc[MR][2];
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  const float* a[MR];
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.a_stride;
  const float* w = t.panel + 16;
  const int pairs = t.k / 2;
  _Pragma("GCC unroll 2") for (int q = 0; q < pairs; ++q, w += 32) {
    const __m512 b0 = _mm512_loadu_ps(w), b1 = _mm512_loadu_ps(w + 16);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      double pair;
      std::memcpy(&pair, a[r] + 2 * q, sizeof pair);
      const __m512 x = _mm512_castpd_ps(_mm512_set1_pd(pair));
      acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
    }
  }
  if (t.k % 2) {  // odd k: the packed partner weights are zero, so a plain broadcast works
    const __m512 b0 = _mm512_loadu_ps(w), b1 = _mm512_loadu_ps(w + 16);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      const __m512 x = _mm512_set1_ps(a[r][t.k - 1]);
      acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
    }
  }
  // Lane L of acc[r][0] holds outputs 2L, 2L+1 (k even, k odd each), of acc[r][1] outputs
  // 8+2L, 9+2L: the in-lane shuffles add the k halves to [o2L o2L+1 o8+2L o9+2L] per lane,
  // the permute restores o0..o15.
  const __m512i order = _mm512_setr_epi32(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
  const __m512 bias = _mm512_loadu_ps(t.panel);
  const Clamp clamp(t.act);
  const __mmask16 m = lanes(t.cols);
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
    if (r < t.rows) {
      const __m512 even = _mm512_shuffle_ps(acc[r][0], acc[r][1], 0x88), odd = _mm512_shuffle_ps(acc[r][0], acc[r][1], 0xDD);
      __m512 y = _mm512_add_ps(bias, _mm512_permutexvar_ps(order, _mm512_add_ps(even, odd)));
      const float* res = t.residual ? t.residual + size_t(r) * t.r_stride : nullptr;
      if (res) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(m, res));
      _mm512_mask_storeu_ps(t.c + size_t(r) * t.c_stride, m, clamp.tile(y));
    }
  }
}

// NR = 8 on k-quad packing (gemm.h): acc[r][v] lane L accumulates output 4v + L over its
// four k phases; per row one 16-byte broadcast of a[4q .. 4q+3] into every 128-bit lane
// feeds 4 k-steps of 8 outputs in two FMAs (the AVX2 k-pair kernel needs two 8-lane FMAs
// for 2 k-steps). The phases are summed once at the end: (p0 + p1) + (p2 + p3).
template <int MR>
void gemm_quads8_avx512(const GemmTile& t) {
  __m512 acc[MR][2];
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  const float* a[MR];
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.a_stride;
  const float* w = t.panel + 16;
  const int quads = t.k / 4, left = t.k % 4;
  _Pragma("GCC unroll 2") for (int q = 0; q < quads; ++q, w += 32) {
    const __m512 b0 = _mm512_loadu_ps(w), b1 = _mm512_loadu_ps(w + 16);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      const __m512 x = _mm512_broadcast_f32x4(_mm_loadu_ps(a[r] + 4 * q));
      acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
    }
  }
  if (left) {  // the last 1-3 k: A copied out (a 16-byte load would read past the row), weights zero-padded
    const __m512 b0 = _mm512_loadu_ps(w), b1 = _mm512_loadu_ps(w + 16);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      float rest[4] = {0.f, 0.f, 0.f, 0.f};
      for (int i = 0; i < left; ++i) rest[i] = a[r][4 * quads + i];
      const __m512 x = _mm512_broadcast_f32x4(_mm_loadu_ps(rest));
      acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
    }
  }
  // Per lane: [p0 p2 | p0 p2] + [p1 p3 | p1 p3] of acc[r][0] and acc[r][1], then the two
  // halves added, leaves output L in element 0 and output 4 + L in element 2 of lane L.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 2, 6, 10, 14, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m256 bias = _mm256_loadu_ps(t.panel);
  const __m256 zero = _mm256_setzero_ps(), six = _mm256_set1_ps(6.f);
  const bool full = t.cols >= 8;
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(t.cols), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
    if (r < t.rows) {
      const __m512 u = _mm512_add_ps(_mm512_shuffle_ps(acc[r][0], acc[r][1], 0x88), _mm512_shuffle_ps(acc[r][0], acc[r][1], 0xDD));
      const __m512 s = _mm512_add_ps(u, _mm512_shuffle_ps(u, u, 0xB1));
      __m256 y = _mm256_add_ps(bias, _mm512_castps512_ps256(_mm512_permutexvar_ps(order, s)));
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

// MR rows x every column of the plain 32-wide panels, k in [1, kMaxRowsK] (gemm.h's
// rows_for): one call instead of one per tile, for the small k of the module tails. K > 0:
// k fixed at compile time (the small nets' c3 = 5-8); K == 0: k read at run time.
constexpr int kMaxRowsK = 128;

template <int MR, int K, bool RESIDUAL>
void gemm_rows_avx512(const GemmTile& t) {
  const int k_count = K > 0 ? K : t.k;
  const int rows = t.rows, cols = t.cols;  // in locals: the stores would make GCC reload them
  const size_t c_stride = t.c_stride, r_stride = t.r_stride, panel_stride = t.panel_stride;
  float* const c_base = t.c;
  const float* const r_base = t.residual;
  const float* a[MR];
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < rows ? r : rows - 1) * t.a_stride;
  const Clamp clamp(t.act);
  const float* panel = t.panel;
  for (int c0 = 0; c0 < cols; c0 += 32, panel += panel_stride) {
    // Opaque row pointers: otherwise GCC precomputes all MR x K broadcast addresses outside
    // the loop and spills them (see the AVX2 row kernel).
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) __asm__("" : "+r"(a[r]));
    __m512 acc[MR][2];
    const __m512 bias0 = _mm512_loadu_ps(panel), bias1 = _mm512_loadu_ps(panel + 16);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) acc[r][0] = bias0, acc[r][1] = bias1;
    _Pragma("GCC unroll 8") for (int k = 0; k < k_count; ++k) {
      const __m512 b0 = _mm512_loadu_ps(panel + 32 * (k + 1)), b1 = _mm512_loadu_ps(panel + 32 * (k + 1) + 16);
      _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
        const __m512 x = _mm512_set1_ps(a[r][k]);
        acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
      }
    }
    const int left = cols - c0;
    auto store = [&](auto full) {
      const __mmask16 m0 = lanes(left), m1 = lanes(left - 16);
      float* c = c_base + c0;
      const float* res = r_base + c0;
      __asm__("" : "+r"(c), "+r"(res));
      _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r, c += c_stride, res += r_stride) {
        if (r < rows) {
          __m512 y0 = acc[r][0], y1 = acc[r][1];
          if (full) {
            if (RESIDUAL) y0 = _mm512_add_ps(y0, _mm512_loadu_ps(res)), y1 = _mm512_add_ps(y1, _mm512_loadu_ps(res + 16));
            _mm512_storeu_ps(c, clamp(y0));
            _mm512_storeu_ps(c + 16, clamp(y1));
          } else {
            if (RESIDUAL)
              y0 = _mm512_add_ps(y0, _mm512_maskz_loadu_ps(m0, res)),
              y1 = _mm512_add_ps(y1, _mm512_maskz_loadu_ps(m1, res + 16));
            _mm512_mask_storeu_ps(c, m0, clamp(y0));
            _mm512_mask_storeu_ps(c + 16, m1, clamp(y1));
          }
        }
      }
    };
    if (left >= 32) {
      store(std::true_type{});
    } else {  // the last, narrower panel
      store(std::false_type{});
    }
  }
}

template <int MR, int K>
void gemm_rows_avx512_k(const GemmTile& t) {
  t.residual ? gemm_rows_avx512<MR, K, true>(t) : gemm_rows_avx512<MR, K, false>(t);
}

// One row across NP plain 32-wide panels (gemm.h's single_row): 2 x NP accumulators, each
// weight loaded once; per column the operations of gemm_avx512.
template <int NP>
void row_panels_avx512(const GemmTile& t, int first_panel) {
  const float* w[NP];
  __m512 acc[NP][2];
  _Pragma("GCC unroll 8") for (int p = 0; p < NP; ++p) {
    w[p] = t.panel + size_t(first_panel + p) * t.panel_stride;
    acc[p][0] = _mm512_loadu_ps(w[p]), acc[p][1] = _mm512_loadu_ps(w[p] + 16);
    w[p] += 32;
  }
  const float* a = t.a;
  const int k = t.k;
  _Pragma("GCC unroll 2") for (int ki = 0; ki < k; ++ki) {
    const __m512 x = _mm512_set1_ps(a[ki]);
    _Pragma("GCC unroll 8") for (int p = 0; p < NP; ++p) {
      acc[p][0] = _mm512_fmadd_ps(x, _mm512_loadu_ps(w[p] + 32 * size_t(ki)), acc[p][0]);
      acc[p][1] = _mm512_fmadd_ps(x, _mm512_loadu_ps(w[p] + 32 * size_t(ki) + 16), acc[p][1]);
    }
  }
  const Clamp clamp(t.act);
  _Pragma("GCC unroll 8") for (int p = 0; p < NP; ++p) {
    _Pragma("GCC unroll 2") for (int v = 0; v < 2; ++v) {
      const int col = (first_panel + p) * 32 + 16 * v, left = t.cols - col;
      if (left <= 0) break;
      const __mmask16 m = lanes(left);
      __m512 y = acc[p][v];
      if (t.residual) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(m, t.residual + col));
      _mm512_mask_storeu_ps(t.c + col, m, clamp.tile(y));
    }
  }
}

}  // namespace

// 4 panels (8 accumulators: enough to cover the FMA latency) per pass, the rest together.
void gemm_row_32_avx512(const GemmTile& t) {
  const int panels = (t.cols + 31) / 32;
  int p = 0;
  for (; p + 4 <= panels; p += 4) row_panels_avx512<4>(t, p);
  switch (panels - p) {
    case 3: row_panels_avx512<3>(t, p); break;
    case 2: row_panels_avx512<2>(t, p); break;
    case 1: row_panels_avx512<1>(t, p); break;
    default: break;
  }
}

GemmUkernel gemm_rows_6x32_avx512(int k) {
  switch (k) {
    case 5: return gemm_rows_avx512_k<6, 5>;
    case 6: return gemm_rows_avx512_k<6, 6>;
    case 7: return gemm_rows_avx512_k<6, 7>;
    case 8: return gemm_rows_avx512_k<6, 8>;
    default: return k >= 1 && k <= kMaxRowsK ? gemm_rows_avx512_k<6, 0> : nullptr;
  }
}

// As on AVX2: none for k = 5-8, where the unrolled 6-row kernels serve every row block.
GemmUkernel gemm_rows_5x32_avx512(int k) {
  return k >= 1 && k <= kMaxRowsK && (k < 5 || k > 8) ? gemm_rows_avx512_k<5, 0> : nullptr;
}

void gemm_6x32_avx512(const GemmTile& t) { gemm_avx512<6, 2>(t); }

void gemm_8x32_avx512(const GemmTile& t) { gemm_avx512<8, 2>(t); }

void gemm_7x32_avx512(const GemmTile& t) { gemm_avx512<7, 2>(t); }

GemmUkernel gemm_rows_8x32_avx512(int k) {
  switch (k) {
    case 5: return gemm_rows_avx512_k<8, 5>;
    case 6: return gemm_rows_avx512_k<8, 6>;
    case 7: return gemm_rows_avx512_k<8, 7>;
    case 8: return gemm_rows_avx512_k<8, 8>;
    default: return k >= 1 && k <= kMaxRowsK ? gemm_rows_avx512_k<8, 0> : nullptr;
  }
}

GemmUkernel gemm_rows_7x32_avx512(int k) {
  return k >= 1 && k <= kMaxRowsK && (k < 5 || k > 8) ? gemm_rows_avx512_k<7, 0> : nullptr;
}

void igemm_8x32_avx512(const GemmIndirectTile& t) { igemm_avx512<8, 2>(t); }

void gemm_5x32_avx512(const GemmTile& t) { gemm_avx512<5, 2>(t); }

void gemm_6x16_pairs_avx512(const GemmTile& t) { gemm_pairs16_avx512<6>(t); }

void gemm_6x8_quads_avx512(const GemmTile& t) { gemm_quads8_avx512<6>(t); }

void igemm_6x32_avx512(const GemmIndirectTile& t) { igemm_avx512<6, 2>(t); }

void gemm_6x16_avx512(const GemmTile& t) { gemm_avx512<6, 1>(t); }

void igemm_6x16_avx512(const GemmIndirectTile& t) { igemm_avx512<6, 1>(t); }

}  // namespace attocore
