// The depthwise kernel the AVX2 and AVX-512 variants share: dwconv_row.h's walk with one group
// kernel for 3x3 windows, groups of 7 for 5x5 ones on rows that fit them (WideWindowRows), and
// one plain row loop for any other, over every chunk of output
// channels, written once over a chunk type and instantiated in each variant's file (with its
// flags). The chunk type C supplies:
//
//   using Vec = ...;  the vector traits (simd/vec_*.h); a chunk is Vec::kLanes output channels
//   struct Chunk;     where one chunk reads its inputs (first input channel in_c0), and full()
//   static Chunk at(const PackedDwconv&, const DwconvShape&, int chunk);
//   template <bool kMultiplier> static Vec::V load_inputs(const float* src, const Chunk&);
//                     a chunk's inputs from its first input channel at src: the lanes'
//                     channels, spread by the multiplier when kMultiplier
//   template <bool kFull> static void store(float* dst, Vec::V y, const Chunk&);
//                     all lanes, or (kFull false) the chunk's output channels only
//
// Per output the same operations in the same order in both (and in the reference): bias, the
// window's taps row by row, the epilogue's clamp.
#pragma once
#include <cstddef>

#include "kernels/dwconv/dwconv_row.h"
#include "kernels/simd/clamp.h"

namespace attocore {
namespace {

// P output pixels ox0 .. ox0 + P - 1 of one row, one chunk, any window, each pixel's window
// inside the image horizontally (rows outside it are skipped, as for_each_window_tap skips
// them): P independent accumulator chains, each tap's weights loaded once for all P. The same
// FMAs in the same order per output as one pixel at a time (bias, then the taps row by row).
template <class C, bool kMultiplier, bool kFull, int P>
inline void pixels_generic(const DwconvShape& s, const float* image, const float* wchunk, const typename C::Chunk& ch,
                           int oy, int ox0, float* out, const Epilogue& ep) {
  using Vec = typename C::Vec;
  using V = typename Vec::V;
  constexpr int L = Vec::kLanes;
  const WindowAttrs& w = s.window;
  const size_t pixel = size_t(s.in_c), step = size_t(w.stride_w) * pixel;
  V acc[P];
  const V bias = Vec::load(wchunk);
  _Pragma("GCC unroll 8") for (int p = 0; p < P; ++p) acc[p] = bias;
  for (int ky = 0; ky < w.kernel_h; ++ky) {
    const int iy = oy * w.stride_h - w.pad_top + ky * w.dilation_h;
    if (iy < 0 || iy >= s.in_h) continue;
    const float* q = image + (size_t(iy) * s.in_w + size_t(ox0 * w.stride_w - w.pad_left)) * pixel + ch.in_c0;
    for (int kx = 0; kx < w.kernel_w; ++kx, q += size_t(w.dilation_w) * pixel) {
      const V wt = Vec::load(wchunk + L + size_t(ky * w.kernel_w + kx) * L);
      _Pragma("GCC unroll 8") for (int p = 0; p < P; ++p)
        acc[p] = Vec::fma(acc[p], C::template load_inputs<kMultiplier>(q + p * step, ch), wt);
    }
  }
  const VecClamp<Vec> clamp(ep);
  _Pragma("GCC unroll 8") for (int p = 0; p < P; ++p) C::template store<kFull>(out + size_t(p) * s.out_c, clamp(acc[p]), ch);
}

// One output row, one chunk, any window. The pixels whose windows lie inside the image
// horizontally go 8 at a time (one accumulator chain per pixel: one chain alone waits on its
// FMA's latency, 5x5 windows ran at a quarter of 3x3's rate); the edges one at a time, with
// the weights re-read from L1 per tap.
template <class C, bool kMultiplier, bool kFull>
void row_generic(const DwconvShape& s, const float* image, const float* wchunk, const typename C::Chunk& ch, int oy,
                 float* out_row, int chunk, const Epilogue& ep) {
  using Vec = typename C::Vec;
  constexpr int L = Vec::kLanes, P = 8;
  const WindowAttrs& w = s.window;
  const VecClamp<Vec> clamp(ep);
  auto one_pixel = [&](int ox) {
    typename Vec::V acc = Vec::load(wchunk);
    for_each_window_tap(s, oy, ox, [&](int iy, int ix, int tap) {
      const typename Vec::V x = C::template load_inputs<kMultiplier>(image + (size_t(iy) * s.in_w + ix) * s.in_c + ch.in_c0, ch);
      acc = Vec::fma(acc, x, Vec::load(wchunk + L + size_t(tap) * L));
    });
    C::template store<kFull>(out_row + size_t(ox) * s.out_c + chunk * L, clamp(acc), ch);
  };
  // Inside horizontally: ox * stride - pad_left >= 0 and its last tap < in_w.
  const int span = (w.kernel_w - 1) * w.dilation_w;
  int lo = (w.pad_left + w.stride_w - 1) / w.stride_w;
  int hi = s.in_w - 1 - span + w.pad_left < 0 ? lo : (s.in_w - 1 - span + w.pad_left) / w.stride_w + 1;
  lo = lo < s.out_w ? lo : s.out_w;
  hi = hi < s.out_w ? hi : s.out_w;
  hi = hi > lo ? hi : lo;
  int ox = 0;
  for (; ox < lo; ++ox) one_pixel(ox);
  for (; ox + P <= hi; ox += P)
    pixels_generic<C, kMultiplier, kFull, P>(s, image, wchunk, ch, oy, ox, out_row + size_t(ox) * s.out_c + chunk * L, ep);
  for (; ox < s.out_w; ++ox) one_pixel(ox);
}

// P output pixels of one row (the first `count` stored), one chunk, 3x3 stride S, reading
// columns ix0 .. ix0 + (P-1)S+2 of the rows, of which the first kSkipFirst and the last
// kSkipLast are padding (zero: never loaded) and the others exist. For each window row the
// input vectors are loaded (and spread) once, each feeding the taps and pixels that need
// it, with that row's 3 weights in registers. P = 8 (8 accumulator chains) ran 0-12%
// faster than 4 on AVX2; 12 spilled.
template <class C, bool kMultiplier, int S, int P, int kSkipFirst, int kSkipLast>
inline void group_3x3(const DwconvShape& s, const float* const rows[3], const float* wchunk,
                      const typename C::Chunk& ch, int ix0, float* dst, int count, const Epilogue& ep) {
  using Vec = typename C::Vec;
  using V = typename Vec::V;
  constexpr int L = Vec::kLanes;
  const size_t pixel = size_t(s.in_c);
  const V bias = Vec::load(wchunk);
  V acc[P];
  _Pragma("GCC unroll 8") for (int p = 0; p < P; ++p) acc[p] = bias;
  for (int ky = 0; ky < 3; ++ky) {
    if (!rows[ky]) continue;
    const float* q = rows[ky] + size_t(ix0 + kSkipFirst) * pixel + ch.in_c0;
    const V w0 = Vec::load(wchunk + L + 3 * L * ky), w1 = Vec::load(wchunk + 2 * L + 3 * L * ky),
            w2 = Vec::load(wchunk + 3 * L + 3 * L * ky);
    _Pragma("GCC unroll 32") for (int j = kSkipFirst; j < (P - 1) * S + 3 - kSkipLast; ++j) {
      const V x = C::template load_inputs<kMultiplier>(q, ch);
      // Stepped through an opaque pointer: GCC would otherwise precompute every j * pixel
      // offset once and keep them on the stack, one extra load per input.
      q += pixel;
      __asm__("" : "+r"(q));
      // Input j is tap kx of pixel (j - kx) / S.
      if (j % S == 0 && j / S < P) acc[j / S] = Vec::fma(acc[j / S], x, w0);
      if ((j - 1) % S == 0 && j >= 1 && (j - 1) / S < P) acc[(j - 1) / S] = Vec::fma(acc[(j - 1) / S], x, w1);
      if ((j - 2) % S == 0 && j >= 2 && (j - 2) / S < P) acc[(j - 2) / S] = Vec::fma(acc[(j - 2) / S], x, w2);
    }
  }
  const VecClamp<Vec> clamp(ep);
  if (ch.full()) {
    _Pragma("GCC unroll 8") for (int p = 0; p < P; ++p) if (p < count) C::template store<true>(dst + size_t(p) * s.out_c, clamp(acc[p]), ch);
  } else {
    _Pragma("GCC unroll 8") for (int p = 0; p < P; ++p) if (p < count) C::template store<false>(dst + size_t(p) * s.out_c, clamp(acc[p]), ch);
  }
}

// group_3x3 over every chunk (dwconv_row.h's group kernel). Chunks go innermost: the input
// pixels a group reads stay in L1 across all chunks (chunk-outer order re-streamed the
// three input rows from L2 per chunk and ran 3x slower).
template <class C, bool kMultiplier, int S>
struct AllChunks {
  const DwconvShape& s;
  const PackedDwconv& p;
  Epilogue ep;
  template <int P, int kSkipFirst, int kSkipLast>
  void run(const float* const rows[3], int ix0, float* dst, int count) const {
    for (int c = 0; c < p.chunks; ++c, dst += C::Vec::kLanes)
      group_3x3<C, kMultiplier, S, P, kSkipFirst, kSkipLast>(s, rows, p.data.data() + size_t(c) * p.chunk_floats(),
                                                             C::at(p, s, c), ix0, dst, count, ep);
  }
};

// P output pixels of one row, one chunk, a K x K stride S window (dilation 1): group_3x3's
// plan for a wider window. Input columns ix0 .. ix0 + (P-1)S + K-1 of the K window rows
// (null: a padding row), of which the first kSkipFirst and the last kSkipLast are padding,
// each loaded once per window row and feeding the up to K taps that read it, the row's K
// weights in registers. Per output the taps in row then column order, padding skipped: the
// generic path's FMAs in the generic path's order. The generic path's P independent pixels
// reload every input per tap (one load per FMA), and its edge pixels ran one at a time.
template <class C, bool kMultiplier, int K, int S, int P, int kSkipFirst, int kSkipLast>
inline void group_kxk(const DwconvShape& s, const float* const rows[K], const float* wchunk,
                      const typename C::Chunk& ch, int ix0, float* dst, const Epilogue& ep) {
  using Vec = typename C::Vec;
  using V = typename Vec::V;
  constexpr int L = Vec::kLanes, kInputs = (P - 1) * S + K;
  const size_t pixel = size_t(s.in_c);
  const V bias = Vec::load(wchunk);
  V acc[P];
  _Pragma("GCC unroll 8") for (int p = 0; p < P; ++p) acc[p] = bias;
  for (int ky = 0; ky < K; ++ky) {
    if (!rows[ky]) continue;
    const float* q = rows[ky] + size_t(ix0 + kSkipFirst) * pixel + ch.in_c0;
    V w[K];
    _Pragma("GCC unroll 8") for (int kx = 0; kx < K; ++kx) w[kx] = Vec::load(wchunk + L + size_t(K * ky + kx) * L);
    _Pragma("GCC unroll 32") for (int j = kSkipFirst; j < kInputs - kSkipLast; ++j) {
      const V x = C::template load_inputs<kMultiplier>(q, ch);
      q += pixel;
      __asm__("" : "+r"(q));  // as in group_3x3: no table of precomputed offsets on the stack
      // Input j is tap kx of pixel (j - kx) / S.
      _Pragma("GCC unroll 8") for (int kx = 0; kx < K; ++kx) {
        if (j >= kx && (j - kx) % S == 0 && (j - kx) / S < P) acc[(j - kx) / S] = Vec::fma(acc[(j - kx) / S], x, w[kx]);
      }
    }
  }
  const VecClamp<Vec> clamp(ep);
  if (ch.full()) {
    _Pragma("GCC unroll 8") for (int p = 0; p < P; ++p) C::template store<true>(dst + size_t(p) * s.out_c, clamp(acc[p]), ch);
  } else {
    _Pragma("GCC unroll 8") for (int p = 0; p < P; ++p) C::template store<false>(dst + size_t(p) * s.out_c, clamp(acc[p]), ch);
  }
}

// Rows of a K x K window (K odd), stride S, dilation 1, padding K/2 on the left, whose width is
// a multiple of 7 with at most K/2 padding columns past the row's end: every width a
// 224-pixel input leads to (MobileNet-V3's and EfficientNet's 5x5 layers). Groups of 7
// pixels, every chunk innermost (as AllChunks); the first group skips the left padding, the
// last the right one, none overlap.
template <class C, bool kMultiplier, int K, int S>
struct WideWindowRows {
  static constexpr int kGroup = 7, kPad = K / 2;
  const DwconvShape& s;
  const PackedDwconv& p;
  Epilogue ep;

  static bool fits(const DwconvShape& s) {
    const WindowAttrs& w = s.window;
    if (w.kernel_h != K || w.kernel_w != K || w.stride_h != S || w.stride_w != S || w.dilation_h != 1 ||
        w.dilation_w != 1 || w.pad_left != kPad || s.out_w % kGroup != 0)
      return false;
    const int over = overshoot(s);
    return over >= 0 && over <= kPad;
  }
  static int overshoot(const DwconvShape& s) { return (s.out_w - 1) * S - kPad + K - 1 - (s.in_w - 1); }

  template <int kSkipFirst, int kSkipLast>
  void group(const float* const rows[K], int ix0, float* dst) const {
    for (int c = 0; c < p.chunks; ++c, dst += C::Vec::kLanes)
      group_kxk<C, kMultiplier, K, S, kGroup, kSkipFirst, kSkipLast>(s, rows, p.data.data() + size_t(c) * p.chunk_floats(),
                                                                     C::at(p, s, c), ix0, dst, ep);
  }
  template <int kSkipFirst>
  void last_group(const float* const rows[K], int ix0, float* dst) const {
    static_assert(kPad <= 3, "wider windows need more cases");
    switch (overshoot(s)) {
      case 0: group<kSkipFirst, 0>(rows, ix0, dst); break;
      case 1: group<kSkipFirst, (kPad >= 1 ? 1 : 0)>(rows, ix0, dst); break;
      case 2: group<kSkipFirst, (kPad >= 2 ? 2 : 0)>(rows, ix0, dst); break;
      default: group<kSkipFirst, kPad>(rows, ix0, dst); break;
    }
  }
  void row(const float* image, int oy, float* out_row) const {
    const float* rows[K];
    const int iy0 = oy * S - s.window.pad_top;
    for (int ky = 0; ky < K; ++ky)
      rows[ky] = iy0 + ky >= 0 && iy0 + ky < s.in_h ? image + size_t(iy0 + ky) * s.in_w * s.in_c : nullptr;
    auto at = [&](int ox) { return out_row + size_t(ox) * s.out_c; };
    const int last = s.out_w - kGroup;
    if (last == 0) {
      last_group<kPad>(rows, -kPad, at(0));
      return;
    }
    group<kPad, 0>(rows, -kPad, at(0));
    for (int ox = kGroup; ox < last; ox += kGroup) group<0, 0>(rows, ox * S - kPad, at(ox));
    last_group<0>(rows, last * S - kPad, at(last));
  }
};

template <class C, bool kMultiplier>
void dwconv_chunk_rows(const DwconvArgs& a) {
  const DwconvShape& s = *a.shape;
  const PackedDwconv& p = *a.weights;
  const WideWindowRows<C, kMultiplier, 5, 1> five_s1{s, p, a.ep};
  const WideWindowRows<C, kMultiplier, 5, 2> five_s2{s, p, a.ep};
  const bool use_five_s1 = five_s1.fits(s), use_five_s2 = five_s2.fits(s);
  dwconv_rows<8>(
      a, [&](auto stride) { return AllChunks<C, kMultiplier, decltype(stride)::value>{s, p, a.ep}; },
      [&](const float* image, int oy, float* out_row) {
        if (use_five_s1) return five_s1.row(image, oy, out_row);
        if (use_five_s2) return five_s2.row(image, oy, out_row);
        for (int c = 0; c < p.chunks; ++c) {
          const float* wchunk = p.data.data() + size_t(c) * p.chunk_floats();
          const typename C::Chunk ch = C::at(p, s, c);
          if (ch.full()) {
            row_generic<C, kMultiplier, true>(s, image, wchunk, ch, oy, out_row, c, a.ep);
          } else {
            row_generic<C, kMultiplier, false>(s, image, wchunk, ch, oy, out_row, c, a.ep);
          }
        }
      });
}

// The depthwise kernel on chunks of type C (dwconv.h's DwconvFn).
template <class C>
void dwconv_chunks(const DwconvArgs& a) {
  if (a.shape->multiplier == 1) {
    dwconv_chunk_rows<C, false>(a);
  } else {
    dwconv_chunk_rows<C, true>(a);
  }
}

}  // namespace
}  // namespace attocore
