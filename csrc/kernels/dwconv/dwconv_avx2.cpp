#include "kernels/dwconv/dwconv_avx2.h"

#include <immintrin.h>

#include <vector>

namespace attocore {
namespace {

inline __m256i lanes_below(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Where one chunk of 8 output channels reads its inputs.
struct Chunk {
  int in_c0;         // first input channel read
  __m256i perm;      // lane i takes input channel in_c0 + perm[i]
  __m256i load_mask;
  bool full_load;    // all 8 input channels from in_c0 exist (else a masked load)
  __m256i store_mask;
  bool full_store;
};

template <bool kMultiplier>
inline __m256 load_inputs(const float* src, const Chunk& ch) {
  __m256 x = ch.full_load ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, ch.load_mask);
  return kMultiplier ? _mm256_permutevar8x32_ps(x, ch.perm) : x;
}

inline __m256 activate(__m256 y, Activation act) {
  if (act != Activation::kNone) y = _mm256_max_ps(y, _mm256_setzero_ps());
  if (act == Activation::kRelu6) y = _mm256_min_ps(y, _mm256_set1_ps(6.f));
  return y;
}

inline void store(float* dst, __m256 y, const Chunk& ch) {
  if (ch.full_store) {
    _mm256_storeu_ps(dst, y);
  } else {
    _mm256_maskstore_ps(dst, ch.store_mask, y);
  }
}

// One output row, one chunk, any window: the weights are re-read from L1 per tap.
template <bool kMultiplier>
void row_generic(const DwconvShape& s, const float* image, const float* wchunk, const Chunk& ch, int oy,
                 float* out_row, int chunk, Activation act) {
  const WindowAttrs& w = s.window;
  for (int ox = 0; ox < s.out_w; ++ox) {
    __m256 acc = _mm256_loadu_ps(wchunk);
    for (int ky = 0; ky < w.kernel_h; ++ky) {
      const int iy = oy * w.stride_h - w.pad_top + ky * w.dilation_h;
      if (iy < 0 || iy >= s.in_h) continue;
      for (int kx = 0; kx < w.kernel_w; ++kx) {
        const int ix = ox * w.stride_w - w.pad_left + kx * w.dilation_w;
        if (ix < 0 || ix >= s.in_w) continue;
        const __m256 x = load_inputs<kMultiplier>(image + (size_t(iy) * s.in_w + ix) * s.in_c + ch.in_c0, ch);
        acc = _mm256_fmadd_ps(x, _mm256_loadu_ps(wchunk + 8 + size_t(ky * w.kernel_w + kx) * 8), acc);
      }
    }
    store(out_row + size_t(ox) * s.out_c + chunk * 8, activate(acc, act), ch);
  }
}

// 3x3, dilation 1: the chunk's 9 weight vectors and bias live in registers for the whole
// row; interior pixels run without bounds checks.
template <bool kMultiplier>
void row_3x3(const DwconvShape& s, const float* image, const float* wchunk, const Chunk& ch, int oy, float* out_row,
             int chunk, Activation act) {
  const WindowAttrs& w = s.window;
  const __m256 bias = _mm256_loadu_ps(wchunk);
  __m256 wt[9];
  for (int t = 0; t < 9; ++t) wt[t] = _mm256_loadu_ps(wchunk + 8 + 8 * t);
  const int iy0 = oy * w.stride_h - w.pad_top;
  const float* rows[3];
  bool row_ok[3];
  for (int ky = 0; ky < 3; ++ky) {
    row_ok[ky] = iy0 + ky >= 0 && iy0 + ky < s.in_h;
    rows[ky] = row_ok[ky] ? image + size_t(iy0 + ky) * s.in_w * s.in_c + ch.in_c0 : nullptr;
  }
  const int sw = w.stride_w;
  for (int ox = 0; ox < s.out_w; ++ox) {
    const int ix0 = ox * sw - w.pad_left;
    __m256 acc = bias;
    if (ix0 >= 0 && ix0 + 2 < s.in_w) {
      for (int ky = 0; ky < 3; ++ky) {
        if (!row_ok[ky]) continue;
        const float* p = rows[ky] + size_t(ix0) * s.in_c;
        acc = _mm256_fmadd_ps(load_inputs<kMultiplier>(p, ch), wt[3 * ky], acc);
        acc = _mm256_fmadd_ps(load_inputs<kMultiplier>(p + s.in_c, ch), wt[3 * ky + 1], acc);
        acc = _mm256_fmadd_ps(load_inputs<kMultiplier>(p + 2 * s.in_c, ch), wt[3 * ky + 2], acc);
      }
    } else {
      for (int ky = 0; ky < 3; ++ky) {
        if (!row_ok[ky]) continue;
        for (int kx = 0; kx < 3; ++kx) {
          const int ix = ix0 + kx;
          if (ix < 0 || ix >= s.in_w) continue;
          acc = _mm256_fmadd_ps(load_inputs<kMultiplier>(rows[ky] + size_t(ix) * s.in_c, ch), wt[3 * ky + kx], acc);
        }
      }
    }
    store(out_row + size_t(ox) * s.out_c + chunk * 8, activate(acc, act), ch);
  }
}

template <bool kMultiplier>
void run_rows(const DwconvArgs& a, const std::vector<Chunk>& chunks) {
  const DwconvShape& s = *a.shape;
  const PackedDwconv& p = *a.weights;
  const WindowAttrs& w = s.window;
  const bool is3x3 = w.kernel_h == 3 && w.kernel_w == 3 && w.dilation_h == 1 && w.dilation_w == 1;
  for (int row = a.row_begin; row < a.row_end; ++row) {
    const int n = row / s.out_h, oy = row % s.out_h;
    const float* image = a.input + size_t(n) * s.in_h * s.in_w * s.in_c;
    float* out_row = a.output + (size_t(n) * s.out_h + oy) * s.out_w * s.out_c;
    for (int c = 0; c < p.chunks; ++c) {
      const float* wchunk = p.data.data() + size_t(c) * p.chunk_floats();
      if (is3x3) {
        row_3x3<kMultiplier>(s, image, wchunk, chunks[c], oy, out_row, c, a.act);
      } else {
        row_generic<kMultiplier>(s, image, wchunk, chunks[c], oy, out_row, c, a.act);
      }
    }
  }
}

}  // namespace

void dwconv_avx2(const DwconvArgs& a) {
  const DwconvShape& s = *a.shape;
  const PackedDwconv& p = *a.weights;
  const int k = s.multiplier;
  std::vector<Chunk> chunks(p.chunks);
  for (int c = 0; c < p.chunks; ++c) {
    const int oc0 = c * 8;
    Chunk& ch = chunks[c];
    ch.in_c0 = oc0 / k;
    alignas(32) int idx[8];
    for (int i = 0; i < 8; ++i) idx[i] = (oc0 + i) / k - ch.in_c0;
    ch.perm = _mm256_load_si256(reinterpret_cast<const __m256i*>(idx));
    ch.full_load = ch.in_c0 + 8 <= s.in_c;
    ch.load_mask = lanes_below(s.in_c - ch.in_c0);
    ch.full_store = oc0 + 8 <= s.out_c;
    ch.store_mask = lanes_below(s.out_c - oc0);
  }
  if (k == 1) {
    run_rows<false>(a, chunks);
  } else {
    run_rows<true>(a, chunks);
  }
}

}  // namespace attocore
