// AVX-512F depthwise convolution: the AVX2 kernel's walk (dwconv_row.h: groups of 7, 8 or 4
// pixels with their edge rules) on chunks of 16 output channels. A chunk with a multiplier
// k >= 2 reads at most 16 / k + 1 consecutive input channels: one 16-float load (inside the
// input slack, dwconv.h) and one vpermps spread them over the lanes. On this core vpermps
// issues on one of the two ports the 512-bit FMAs use, one per input vector against the 1-3
// FMAs that vector feeds: still twice the AVX2 kernel's lanes per FMA. A partial last chunk
// is stored through a mask.
#include <immintrin.h>

#include "kernels/dwconv/dwconv_row.h"

namespace attocore {
namespace {

struct Chunk {
  int in_c0;          // first input channel read
  __m512i perm;       // lane i takes input channel in_c0 + perm[i]
  __mmask16 outputs;  // lanes that are output channels
};

template <bool kMultiplier>
inline __m512 load_inputs(const float* src, const Chunk& ch) {
  const __m512 x = _mm512_loadu_ps(src);
  return kMultiplier ? _mm512_permutexvar_ps(ch.perm, x) : x;
}

inline __m512 activate(__m512 y, Activation act) {
  if (act != Activation::kNone) y = _mm512_max_ps(y, _mm512_setzero_ps());
  if (act == Activation::kRelu6) y = _mm512_min_ps(y, _mm512_set1_ps(6.f));
  return y;
}

inline void store(float* dst, __m512 y, const Chunk& ch) {
  if (ch.outputs == 0xFFFF) {
    _mm512_storeu_ps(dst, y);
  } else {
    _mm512_mask_storeu_ps(dst, ch.outputs, y);
  }
}

Chunk chunk_at(const PackedDwconv& p, const DwconvShape& s, int c) {
  Chunk ch;
  ch.in_c0 = p.first_input[c];
  ch.perm = _mm512_loadu_si512(p.lane_input.data() + size_t(c) * 16);
  const int valid = s.out_c - c * 16 < 16 ? s.out_c - c * 16 : 16;
  ch.outputs = __mmask16(valid == 16 ? 0xFFFF : (1u << valid) - 1);
  return ch;
}

// One output row, one chunk, any window: the weights are re-read from L1 per tap.
template <bool kMultiplier>
void row_generic(const DwconvShape& s, const float* image, const float* wchunk, const Chunk& ch, int oy,
                 float* out_row, int chunk, Activation act) {
  const WindowAttrs& w = s.window;
  for (int ox = 0; ox < s.out_w; ++ox) {
    __m512 acc = _mm512_loadu_ps(wchunk);
    for (int ky = 0; ky < w.kernel_h; ++ky) {
      const int iy = oy * w.stride_h - w.pad_top + ky * w.dilation_h;
      if (iy < 0 || iy >= s.in_h) continue;
      for (int kx = 0; kx < w.kernel_w; ++kx) {
        const int ix = ox * w.stride_w - w.pad_left + kx * w.dilation_w;
        if (ix < 0 || ix >= s.in_w) continue;
        const __m512 x = load_inputs<kMultiplier>(image + (size_t(iy) * s.in_w + ix) * s.in_c + ch.in_c0, ch);
        acc = _mm512_fmadd_ps(x, _mm512_loadu_ps(wchunk + 16 + size_t(ky * w.kernel_w + kx) * 16), acc);
      }
    }
    store(out_row + size_t(ox) * s.out_c + chunk * 16, activate(acc, act), ch);
  }
}

// P output pixels of one row, one chunk, 3x3 stride S: as the AVX2 group_3x3 (each window
// row's inputs loaded and spread once, its 3 weights in registers, one chain per pixel).
template <bool kMultiplier, int S, int P, int kSkipFirst, int kSkipLast>
inline void group_3x3(const DwconvShape& s, const float* const rows[3], const float* wchunk, const Chunk& ch,
                      int ix0, float* dst, int count, Activation act) {
  const size_t pixel = size_t(s.in_c);
  const __m512 bias = _mm512_loadu_ps(wchunk);
  __m512 acc[P];
  _Pragma("GCC unroll 8") for (int p = 0; p < P; ++p) acc[p] = bias;
  for (int ky = 0; ky < 3; ++ky) {
    if (!rows[ky]) continue;
    const float* q = rows[ky] + size_t(ix0 + kSkipFirst) * pixel + ch.in_c0;
    const __m512 w0 = _mm512_loadu_ps(wchunk + 16 + 48 * ky), w1 = _mm512_loadu_ps(wchunk + 32 + 48 * ky),
                 w2 = _mm512_loadu_ps(wchunk + 48 + 48 * ky);
    _Pragma("GCC unroll 32") for (int j = kSkipFirst; j < (P - 1) * S + 3 - kSkipLast; ++j) {
      const __m512 x = load_inputs<kMultiplier>(q, ch);
      q += pixel;
      __asm__("" : "+r"(q));  // as in the AVX2 kernel: no precomputed offsets on the stack
      if (j % S == 0 && j / S < P) acc[j / S] = _mm512_fmadd_ps(x, w0, acc[j / S]);
      if ((j - 1) % S == 0 && j >= 1 && (j - 1) / S < P) acc[(j - 1) / S] = _mm512_fmadd_ps(x, w1, acc[(j - 1) / S]);
      if ((j - 2) % S == 0 && j >= 2 && (j - 2) / S < P) acc[(j - 2) / S] = _mm512_fmadd_ps(x, w2, acc[(j - 2) / S]);
    }
  }
  _Pragma("GCC unroll 8") for (int p = 0; p < P; ++p) if (p < count) store(dst + size_t(p) * s.out_c, activate(acc[p], act), ch);
}

// group_3x3 over every chunk (dwconv_row.h's group kernel), chunks innermost.
template <bool kMultiplier, int S>
struct AllChunks {
  const DwconvShape& s;
  const PackedDwconv& p;
  Activation act;
  template <int P, int kSkipFirst, int kSkipLast>
  void run(const float* const rows[3], int ix0, float* dst, int count) const {
    for (int c = 0; c < p.chunks; ++c, dst += 16)
      group_3x3<kMultiplier, S, P, kSkipFirst, kSkipLast>(s, rows, p.data.data() + size_t(c) * p.chunk_floats(),
                                                          chunk_at(p, s, c), ix0, dst, count, act);
  }
};

template <bool kMultiplier>
void run_rows(const DwconvArgs& a) {
  const DwconvShape& s = *a.shape;
  const PackedDwconv& p = *a.weights;
  dwconv_rows<8>(
      a, [&](auto stride) { return AllChunks<kMultiplier, decltype(stride)::value>{s, p, a.act}; },
      [&](const float* image, int oy, float* out_row) {
        for (int c = 0; c < p.chunks; ++c)
          row_generic<kMultiplier>(s, image, p.data.data() + size_t(c) * p.chunk_floats(), chunk_at(p, s, c), oy,
                                   out_row, c, a.act);
      });
}

}  // namespace

void dwconv_avx512(const DwconvArgs& a) {
  if (a.shape->multiplier == 1) {
    run_rows<false>(a);
  } else {
    run_rows<true>(a);
  }
}

}  // namespace attocore
