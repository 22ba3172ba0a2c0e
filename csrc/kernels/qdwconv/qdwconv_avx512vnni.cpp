// AVX-512 VNNI int8 depthwise: 16 output channels of a pixel per zmm of int32 sums. Per tap,
// the chunk's input bytes (16 channels for multiplier 1; 8, 4, ... for 2, 4: one 16-byte
// load either way) are spread to the lanes by one pshufb (skipped for multiplier 1),
// sign-extended to int32 and multiplied into the sums by vpdpwssd against weights held as
// [w, 0] int16 pairs (qdwconv_pack.cpp): exact int32, and any multiplier works the same way.
// 3x3 windows (dilation 1, column stride 1 or 2): qdwconv_row3.h (a row at a time, weights
// in registers, each input column spread once for every pixel that uses it). Other windows: per pixel, up to 4 chunks at a time, two sums each (even and
// odd taps) so that no sum waits on the previous vpdpwssd; edges and the end of the input
// there as qdwconv_taps.h says.
#include <immintrin.h>

#include <cstring>

#include "kernels/qdwconv/qdwconv.h"
#include "kernels/qdwconv/qdwconv_row3.h"
#include "kernels/qdwconv/qdwconv_taps.h"

namespace attocore {
namespace {

constexpr int kCw = 16;

struct Epi {
  __m512 lo, hi;
  __m512i zp;
};

template <bool kSpread>
inline __m512i tap_input(const int8_t* p, __m128i map) {
  __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if (kSpread) b = _mm_shuffle_epi8(b, map);
  return _mm512_cvtepi8_epi32(b);
}

// Chunks [ch, ch + G) of one output pixel (not inlined: GCC spills its sums if it is).
template <int G, bool kSpread>
__attribute__((noinline)) void chunks(const PackedQDwconv& p, const DwconvShape& s, const int8_t* const* src, int ch, int8_t* out,
            const Epi& e) {
  __m512i acc[G][2];
  __m128i map[G];
  int c0[G];
  const int8_t* w[G];
  _Pragma("GCC unroll 4") for (int g = 0; g < G; ++g) {
    acc[g][0] = _mm512_loadu_si512(p.bias.data() + size_t(ch + g) * kCw);
    acc[g][1] = _mm512_setzero_si512();
    c0[g] = p.aux[size_t(ch + g) * 5];
    map[g] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&p.aux[size_t(ch + g) * 5 + 1]));
    w[g] = p.weights.data() + size_t(ch + g) * p.taps * kCw * 4;
  }
  int t = 0;
  for (; t + 2 <= p.taps; t += 2) {
    _Pragma("GCC unroll 4") for (int g = 0; g < G; ++g) {
      const __m512i x0 = tap_input<kSpread>(src[t] + c0[g], map[g]);
      const __m512i x1 = tap_input<kSpread>(src[t + 1] + c0[g], map[g]);
      acc[g][0] = _mm512_dpwssd_epi32(acc[g][0], x0, _mm512_loadu_si512(w[g] + size_t(t) * kCw * 4));
      acc[g][1] = _mm512_dpwssd_epi32(acc[g][1], x1, _mm512_loadu_si512(w[g] + size_t(t + 1) * kCw * 4));
    }
  }
  if (t < p.taps) {
    _Pragma("GCC unroll 4") for (int g = 0; g < G; ++g) {
      const __m512i x0 = tap_input<kSpread>(src[t] + c0[g], map[g]);
      acc[g][0] = _mm512_dpwssd_epi32(acc[g][0], x0, _mm512_loadu_si512(w[g] + size_t(t) * kCw * 4));
    }
  }
  // requantize.h on 16 lanes; a last partial chunk is stored through a byte mask.
  _Pragma("GCC unroll 4") for (int g = 0; g < G; ++g) {
    const int o0 = (ch + g) * kCw, left = s.out_c - o0;
    const __mmask16 mask = left >= kCw ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
    __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(acc[g][0], acc[g][1])),
                             _mm512_loadu_ps(p.multiplier.data() + o0));
    y = _mm512_min_ps(_mm512_max_ps(y, e.lo), e.hi);
    _mm512_mask_cvtsepi32_storeu_epi8(out + o0, mask, _mm512_add_epi32(_mm512_cvtps_epi32(y), e.zp));
  }
}

// The vector vocabulary of qdwconv_row3.h on zmm.
struct Vec512 {
  using V = __m512i;
  static constexpr int kCw = 16;
  template <bool kSpread>
  static V spread(const int8_t* p, __m128i map) { return tap_input<kSpread>(p, map); }
  static V splat(int32_t v) { return _mm512_set1_epi32(v); }
  static V load(const void* p) { return _mm512_loadu_si512(p); }
  static V zero() { return _mm512_setzero_si512(); }
  static V dot(V acc, V x, V w) { return _mm512_dpwssd_epi32(acc, x, w); }
  static V add(V a, V b) { return _mm512_add_epi32(a, b); }
  struct Requant {
    Epi e;
    explicit Requant(const QuantEpilogue& ep)
        : e{_mm512_set1_ps(float(ep.lo - ep.zero_point)), _mm512_set1_ps(float(ep.hi - ep.zero_point)),
            _mm512_set1_epi32(ep.zero_point)} {}
  };
  // requantize.h on 16 lanes, stored through a byte mask for a last partial chunk.
  struct Out {
    Epi e;
    __m512 mult;
    __mmask16 mask;
    Out(const Requant& rq, const float* m, int left)
        : e(rq.e), mult(_mm512_loadu_ps(m)), mask(left >= kCw ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1)) {}
    void operator()(int8_t* out, V acc) const {
      __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), mult);
      y = _mm512_min_ps(_mm512_max_ps(y, e.lo), e.hi);
      _mm512_mask_cvtsepi32_storeu_epi8(out, mask, _mm512_add_epi32(_mm512_cvtps_epi32(y), e.zp));
    }
  };
};

template <bool kSpread>
void run(const QDwconvArgs& a) {
  const DwconvShape& s = *a.shape;
  const PackedQDwconv& p = *a.weights;
  const Epi e{_mm512_set1_ps(float(a.ep.lo - a.ep.zero_point)), _mm512_set1_ps(float(a.ep.hi - a.ep.zero_point)),
              _mm512_set1_epi32(a.ep.zero_point)};
  if (qdwconv_row3_applies(s)) return qdwconv_rows3x3<Vec512, kSpread>(a);
  QDwconvWindow win(a);
  for (int row = a.row_begin; row < a.row_end; ++row) {
    const int n = row / s.out_h, oy = row % s.out_h;
    const int8_t* image = a.input + size_t(n) * s.in_h * s.in_w * s.in_c;
    for (int ox = 0; ox < s.out_w; ++ox) {
      win.fill(image, oy, ox);
      int8_t* out = a.output + (size_t(row - a.output_row0) * s.out_w + ox) * s.out_c;
      int ch = 0;
      for (; ch + 4 <= p.chunks; ch += 4) chunks<4, kSpread>(p, s, win.src, ch, out, e);
      switch (p.chunks - ch) {
        case 3: chunks<3, kSpread>(p, s, win.src, ch, out, e); break;
        case 2: chunks<2, kSpread>(p, s, win.src, ch, out, e); break;
        case 1: chunks<1, kSpread>(p, s, win.src, ch, out, e); break;
        default: break;
      }
    }
  }
}

}  // namespace

// qdwconv_avx512vnni_pack: qdwconv_pack.cpp.

void qdwconv_avx512vnni(const QDwconvArgs& a) {
  if (a.shape->multiplier == 1)
    run<false>(a);
  else
    run<true>(a);
}

}  // namespace attocore
