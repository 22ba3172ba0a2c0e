#include "kernels/dwconv/dwconv_avx2.h"

#include <immintrin.h>


namespace attocore {
namespace {

// Where one chunk of 8 output channels reads its inputs.
struct Chunk {
  int in_c0;          // first input channel read
  __m256i perm;       // lane i takes input channel in_c0 + perm[i]
  int valid_outputs;  // output channels of the chunk that exist (at most 8)
  bool full() const { return valid_outputs == 8; }
};

// Inputs for one chunk: 8 floats from its first input channel. With a multiplier k the
// chunk needs only ceil(8/k) of them; the rest (the next pixel's channels, or the arena's
// slack past the last tensor: see the executor) are loaded and never used by a valid lane.
template <bool kMultiplier>
inline __m256 load_inputs(const float* src, const Chunk& ch) {
  const __m256 x = _mm256_loadu_ps(src);
  return kMultiplier ? _mm256_permutevar8x32_ps(x, ch.perm) : x;
}

inline __m256 activate(__m256 y, Activation act) {
  if (act != Activation::kNone) y = _mm256_max_ps(y, _mm256_setzero_ps());
  if (act == Activation::kRelu6) y = _mm256_min_ps(y, _mm256_set1_ps(6.f));
  return y;
}

template <bool kFull>
inline void store(float* dst, __m256 y, const Chunk& ch) {
  if (kFull) {
    _mm256_storeu_ps(dst, y);
  } else {
    alignas(32) float tmp[8];
    _mm256_store_ps(tmp, y);
    for (int i = 0; i < ch.valid_outputs; ++i) dst[i] = tmp[i];
  }
}

// One output row, one chunk, any window: the weights are re-read from L1 per tap.
template <bool kMultiplier, bool kFull>
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
    store<kFull>(out_row + size_t(ox) * s.out_c + chunk * 8, activate(acc, act), ch);
  }
}

// 3x3, dilation 1: the chunk's 9 weight vectors and bias live in registers for the whole
// row; interior pixels run without bounds checks.
template <bool kMultiplier, bool kFull>
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
  const size_t step = size_t(sw) * s.in_c;  // input distance between neighbouring output pixels
  auto one_pixel = [&](int ox) {
    const int ix0 = ox * sw - w.pad_left;
    __m256 acc = bias;
    for (int ky = 0; ky < 3; ++ky) {
      if (!row_ok[ky]) continue;
      for (int kx = 0; kx < 3; ++kx) {
        const int ix = ix0 + kx;
        if (ix < 0 || ix >= s.in_w) continue;
        acc = _mm256_fmadd_ps(load_inputs<kMultiplier>(rows[ky] + size_t(ix) * s.in_c, ch), wt[3 * ky + kx], acc);
      }
    }
    store<kFull>(out_row + size_t(ox) * s.out_c + chunk * 8, activate(acc, act), ch);
  };
  int ox = 0;
  for (; ox < s.out_w && ox * sw - w.pad_left < 0; ++ox) one_pixel(ox);  // left border
  // Four interior pixels at a time: four independent accumulator chains hide the FMA
  // latency that a single 9-tap chain would expose.
  for (; ox + 3 < s.out_w && (ox + 3) * sw - w.pad_left + 2 < s.in_w; ox += 4) {
    const int ix0 = ox * sw - w.pad_left;
    __m256 a0 = bias, a1 = bias, a2 = bias, a3 = bias;
    for (int ky = 0; ky < 3; ++ky) {
      if (!row_ok[ky]) continue;
      const float* p = rows[ky] + size_t(ix0) * s.in_c;
      for (int kx = 0; kx < 3; ++kx) {
        const __m256 wk = wt[3 * ky + kx];
        const float* q = p + size_t(kx) * s.in_c;
        a0 = _mm256_fmadd_ps(load_inputs<kMultiplier>(q, ch), wk, a0);
        a1 = _mm256_fmadd_ps(load_inputs<kMultiplier>(q + step, ch), wk, a1);
        a2 = _mm256_fmadd_ps(load_inputs<kMultiplier>(q + 2 * step, ch), wk, a2);
        a3 = _mm256_fmadd_ps(load_inputs<kMultiplier>(q + 3 * step, ch), wk, a3);
      }
    }
    float* dst = out_row + size_t(ox) * s.out_c + chunk * 8;
    store<kFull>(dst, activate(a0, act), ch);
    store<kFull>(dst + s.out_c, activate(a1, act), ch);
    store<kFull>(dst + 2 * s.out_c, activate(a2, act), ch);
    store<kFull>(dst + 3 * s.out_c, activate(a3, act), ch);
  }
  for (; ox < s.out_w; ++ox) one_pixel(ox);  // what is left, right border included
}

template <bool kMultiplier>
void run_rows(const DwconvArgs& a) {
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
      // Read where the chunk's inputs are from the packing (made once at load time).
      Chunk ch;
      ch.in_c0 = p.first_input[c];
      ch.perm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.lane_input.data() + size_t(c) * 8));
      ch.valid_outputs = s.out_c - c * 8 < 8 ? s.out_c - c * 8 : 8;
      if (is3x3) {
        if (ch.full()) {
          row_3x3<kMultiplier, true>(s, image, wchunk, ch, oy, out_row, c, a.act);
        } else {
          row_3x3<kMultiplier, false>(s, image, wchunk, ch, oy, out_row, c, a.act);
        }
      } else if (ch.full()) {
        row_generic<kMultiplier, true>(s, image, wchunk, ch, oy, out_row, c, a.act);
      } else {
        row_generic<kMultiplier, false>(s, image, wchunk, ch, oy, out_row, c, a.act);
      }
    }
  }
}

}  // namespace

void dwconv_avx2(const DwconvArgs& a) {
  if (a.shape->multiplier == 1) {
    run_rows<false>(a);
  } else {
    run_rows<true>(a);
  }
}

}  // namespace attocore
