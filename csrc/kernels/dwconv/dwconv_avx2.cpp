#include <immintrin.h>

#include "kernels/dwconv/dwconv_row.h"

namespace attocore {
namespace {

// Where one chunk of 8 output channels reads its inputs.
struct Chunk {
  int in_c0;          // first input channel read
  __m256i perm;       // lane i takes input channel in_c0 + perm[i] (0..3)
  int valid_outputs;  // output channels of the chunk that exist (at most 8)
  bool full() const { return valid_outputs == 8; }
};

// Inputs for one chunk, from its first input channel. Without a multiplier: 8 channels.
// With a multiplier k >= 2 the chunk's 8 outputs read at most 4 consecutive input
// channels: one 128-bit load broadcast to both halves, then an in-lane permute
// (vpermilps, two per cycle) spreads them; a cross-lane vpermps here cost 1.5x the time.
// Channels past a chunk's needs (the next pixel's, or the arena's slack past the last
// tensor: see the executor) are loaded and never used by a valid lane.
template <bool kMultiplier>
inline __m256 load_inputs(const float* src, const Chunk& ch) {
  if (!kMultiplier) return _mm256_loadu_ps(src);
  return _mm256_permutevar_ps(_mm256_broadcast_ps(reinterpret_cast<const __m128*>(src)), ch.perm);
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

Chunk chunk_at(const PackedDwconv& p, const DwconvShape& s, int c) {
  Chunk ch;
  ch.in_c0 = p.first_input[c];
  ch.perm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.lane_input.data() + size_t(c) * 8));
  ch.valid_outputs = s.out_c - c * 8 < 8 ? s.out_c - c * 8 : 8;
  return ch;
}

// P output pixels of one row (the first `count` stored), one chunk, 3x3 stride S, reading
// columns ix0 .. ix0 + (P-1)S+2 of the rows, of which the first kSkipFirst and the last
// kSkipLast are padding (zero: never loaded) and the others exist. For each window row the
// input vectors are loaded (and spread) once, each feeding the taps and pixels that need
// it, with that row's 3 weights in registers. P = 8 (8 accumulator chains) ran 0-12%
// faster than 4; 12 spilled.
template <bool kMultiplier, int S, int P, int kSkipFirst, int kSkipLast>
inline void group_3x3(const DwconvShape& s, const float* const rows[3], const float* wchunk, const Chunk& ch,
                      int ix0, float* dst, int count, Activation act) {
  const size_t pixel = size_t(s.in_c);
  const __m256 bias = _mm256_loadu_ps(wchunk);
  __m256 acc[P];
  _Pragma("GCC unroll 8") for (int p = 0; p < P; ++p) acc[p] = bias;
  for (int ky = 0; ky < 3; ++ky) {
    if (!rows[ky]) continue;
    const float* q = rows[ky] + size_t(ix0 + kSkipFirst) * pixel + ch.in_c0;
    const __m256 w0 = _mm256_loadu_ps(wchunk + 8 + 24 * ky), w1 = _mm256_loadu_ps(wchunk + 16 + 24 * ky),
                 w2 = _mm256_loadu_ps(wchunk + 24 + 24 * ky);
    _Pragma("GCC unroll 32") for (int j = kSkipFirst; j < (P - 1) * S + 3 - kSkipLast; ++j) {
      const __m256 x = load_inputs<kMultiplier>(q, ch);
      // Stepped through an opaque pointer: GCC would otherwise precompute every j * pixel
      // offset once and keep them on the stack, one extra load per input.
      q += pixel;
      __asm__("" : "+r"(q));
      // Input j is tap kx of pixel (j - kx) / S.
      if (j % S == 0 && j / S < P) acc[j / S] = _mm256_fmadd_ps(x, w0, acc[j / S]);
      if ((j - 1) % S == 0 && j >= 1 && (j - 1) / S < P) acc[(j - 1) / S] = _mm256_fmadd_ps(x, w1, acc[(j - 1) / S]);
      if ((j - 2) % S == 0 && j >= 2 && (j - 2) / S < P) acc[(j - 2) / S] = _mm256_fmadd_ps(x, w2, acc[(j - 2) / S]);
    }
  }
  if (ch.full()) {
    _Pragma("GCC unroll 8") for (int p = 0; p < P; ++p) if (p < count) store<true>(dst + size_t(p) * s.out_c, activate(acc[p], act), ch);
  } else {
    _Pragma("GCC unroll 8") for (int p = 0; p < P; ++p) if (p < count) store<false>(dst + size_t(p) * s.out_c, activate(acc[p], act), ch);
  }
}

// group_3x3 over every chunk (dwconv_row.h's group kernel). Chunks go innermost: the input
// pixels a group reads stay in L1 across all chunks (chunk-outer order re-streamed the
// three input rows from L2 per chunk and ran 3x slower).
template <bool kMultiplier, int S>
struct AllChunks {
  const DwconvShape& s;
  const PackedDwconv& p;
  Activation act;
  template <int P, int kSkipFirst, int kSkipLast>
  void run(const float* const rows[3], int ix0, float* dst, int count) const {
    for (int c = 0; c < p.chunks; ++c, dst += 8)
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
        for (int c = 0; c < p.chunks; ++c) {
          const float* wchunk = p.data.data() + size_t(c) * p.chunk_floats();
          const Chunk ch = chunk_at(p, s, c);
          if (ch.full()) {
            row_generic<kMultiplier, true>(s, image, wchunk, ch, oy, out_row, c, a.act);
          } else {
            row_generic<kMultiplier, false>(s, image, wchunk, ch, oy, out_row, c, a.act);
          }
        }
      });
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
