// AVX-512 VNNI int8 depthwise: 16 output channels of a pixel per zmm of int32 sums. Per tap,
// the chunk's input bytes (16 channels for multiplier 1; 8, 4, ... for 2, 4: one 16-byte
// load either way) are spread to the lanes by one pshufb (skipped for multiplier 1),
// sign-extended to int32 and multiplied into the sums by vpdpwssd against weights held as
// [w, 0] int16 pairs (qdwconv_pack.cpp): exact int32, and any multiplier works the same way.
// 3x3 windows (dilation 1, column stride 1 or 2): one chunk's 9 weights held in registers
// over a whole output row, each input column spread once and used by every pixel whose
// window holds it (3 for stride 1), padding columns and rows read as the zero point (folded
// into the bias). Other windows: per pixel, up to 4 chunks at a time, two sums each (even and
// odd taps) so that no sum waits on the previous vpdpwssd; edges and the end of the input
// there as qdwconv_taps.h says.
#include <immintrin.h>

#include <cstring>

#include "kernels/qdwconv/qdwconv.h"
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

// Chunks [ch, ch + G) of one output pixel.
template <int G, bool kSpread>
void chunks(const PackedQDwconv& p, const DwconvShape& s, const int8_t* const* src, int ch, int8_t* out,
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

inline __m512i requantize16(__m512i acc, __m512 mult, const Epi& e) {
  __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), mult);
  y = _mm512_min_ps(_mm512_max_ps(y, e.lo), e.hi);
  return _mm512_add_epi32(_mm512_cvtps_epi32(y), e.zp);
}

// One output row of a 3x3 window with column stride S, as run() sets it up: window row ky
// reads rows[ky] (a row of the zero point where it is padding); pixels [fast_lo, fast_hi)
// read their new columns with no bounds checks (inside the row, and 16-byte loads inside
// the tensor), the others check each column.
struct Row3 {
  const int8_t* rows[3];
  bool real[3];
  const int8_t* end;
  int8_t* out;
  int in_w, in_c, out_w, out_c, pl;
  int fast_lo, fast_hi;
};

template <int S, bool kSpread>
void row3x3(const PackedQDwconv& p, const Row3& r, const Epi& e) {
  const int in_w = r.in_w, in_c = r.in_c, out_w = r.out_w, out_c = r.out_c, pl = r.pl;
  const __m512i zpx = _mm512_set1_epi32(p.x_zero_point);
  for (int ch = 0; ch < p.chunks; ++ch) {
    const int c0 = p.aux[size_t(ch) * 5], o0 = ch * kCw, left = out_c - o0;
    const __m128i map = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&p.aux[size_t(ch) * 5 + 1]));
    const __mmask16 mask = left >= kCw ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
    const __m512i bias = _mm512_loadu_si512(p.bias.data() + size_t(o0));
    const __m512 mult = _mm512_loadu_ps(p.multiplier.data() + o0);
    __m512i w[9];
    _Pragma("GCC unroll 9") for (int t = 0; t < 9; ++t)
      w[t] = _mm512_loadu_si512(p.weights.data() + (size_t(ch) * 9 + t) * kCw * 4);
    const int8_t* base[3];
    _Pragma("GCC unroll 3") for (int ky = 0; ky < 3; ++ky) base[ky] = r.rows[ky] + c0;
    int8_t* out = r.out + o0;
    // Input column ix of window row ky, spread to the chunk's lanes (the zero point outside).
    auto column = [&](int ky, int ix) -> __m512i {
      if (!r.real[ky] || ix < 0 || ix >= in_w) return zpx;
      const int8_t* q = base[ky] + size_t(ix) * in_c;
      if (r.end - q < 16) {  // the tensor's last bytes: a copy, so the load stays inside it
        alignas(16) int8_t copy[16] = {};
        for (int i = 0; i < r.end - q; ++i) copy[i] = q[i];
        return tap_input<kSpread>(copy, map);
      }
      return tap_input<kSpread>(q, map);
    };
    __m512i x[3][3];
    auto pixel = [&](int ox) {
      __m512i acc[3];
      _Pragma("GCC unroll 3") for (int ky = 0; ky < 3; ++ky) {
        acc[ky] = ky == 0 ? bias : _mm512_setzero_si512();
        _Pragma("GCC unroll 3") for (int kx = 0; kx < 3; ++kx)
          acc[ky] = _mm512_dpwssd_epi32(acc[ky], x[ky][kx], w[ky * 3 + kx]);
      }
      const __m512i sum = _mm512_add_epi32(_mm512_add_epi32(acc[0], acc[1]), acc[2]);
      _mm512_mask_cvtsepi32_storeu_epi8(out + size_t(ox) * out_c, mask, requantize16(sum, mult, e));
    };
    // Window ox from window ox - 1: 3 - S columns kept, S read (checked or not).
    auto roll = [&](int ox, bool checked) {
      const int ix = ox * S - pl;
      _Pragma("GCC unroll 3") for (int ky = 0; ky < 3; ++ky) {
        if (S == 2) x[ky][0] = x[ky][2];
        if (S == 1) x[ky][0] = x[ky][1], x[ky][1] = x[ky][2];
        if (checked) {
          if (S == 2) x[ky][1] = column(ky, ix + 1);
          x[ky][2] = column(ky, ix + 2);
        } else {
          const int8_t* q = base[ky] + size_t(ix + 2) * in_c;
          if (S == 2) x[ky][1] = tap_input<kSpread>(q - in_c, map);
          x[ky][2] = tap_input<kSpread>(q, map);
        }
      }
    };
    _Pragma("GCC unroll 3") for (int ky = 0; ky < 3; ++ky)
      _Pragma("GCC unroll 3") for (int kx = 0; kx < 3; ++kx) x[ky][kx] = column(ky, kx - pl);
    pixel(0);
    int ox = 1;
    for (; ox < out_w && ox < r.fast_lo; ++ox) roll(ox, true), pixel(ox);
    for (; ox < r.fast_hi; ++ox) roll(ox, false), pixel(ox);
    for (; ox < out_w; ++ox) roll(ox, true), pixel(ox);
  }
}

template <bool kSpread>
void run(const QDwconvArgs& a) {
  const DwconvShape& s = *a.shape;
  const PackedQDwconv& p = *a.weights;
  const Epi e{_mm512_set1_ps(float(a.ep.lo - a.ep.zero_point)), _mm512_set1_ps(float(a.ep.hi - a.ep.zero_point)),
              _mm512_set1_epi32(a.ep.zero_point)};
  const WindowAttrs& wa = s.window;
  if (wa.kernel_h == 3 && wa.kernel_w == 3 && wa.dilation_h == 1 && wa.dilation_w == 1 &&
      (wa.stride_w == 1 || wa.stride_w == 2)) {
    const int8_t* end = a.input + size_t(s.batch) * s.in_h * s.in_w * s.in_c;
    // A row of the zero point for padding rows, so the unchecked loads need no test per row.
    int8_t* zp_row = static_cast<int8_t*>(a.scratch);
    std::memset(zp_row, int8_t(p.x_zero_point), size_t(s.in_w) * s.in_c + 32);
    const int S = wa.stride_w;
    Row3 r{};
    r.end = end, r.in_w = s.in_w, r.in_c = s.in_c, r.out_w = s.out_w, r.out_c = s.out_c, r.pl = wa.pad_left;
    for (int row = a.row_begin; row < a.row_end; ++row) {
      const int n = row / s.out_h, oy = row % s.out_h;
      const int8_t* image = a.input + size_t(n) * s.in_h * s.in_w * s.in_c;
      // Unchecked: window ox's new columns inside [0, in_w), and every 16-byte load from a
      // real row inside the tensor: (ix + 3) in_c + 15 <= end - row.
      int max_ix = s.in_w - 3;
      for (int ky = 0; ky < 3; ++ky) {
        const int iy = oy * wa.stride_h - wa.pad_top + ky;
        r.real[ky] = iy >= 0 && iy < s.in_h;
        r.rows[ky] = r.real[ky] ? image + size_t(iy) * s.in_w * s.in_c : zp_row;
        if (r.real[ky]) {
          const ptrdiff_t room = (end - r.rows[ky] - 15) / s.in_c - 3;
          if (room < max_ix) max_ix = int(room);
        }
      }
      // New columns of window ox: ox S - pl + 3 - S .. ox S - pl + 2.
      const int lead = wa.pad_left + S - 3;  // ox S >= lead keeps them right of column 0
      r.fast_lo = lead <= S ? 1 : (lead + S - 1) / S;
      r.fast_hi = max_ix + wa.pad_left < 0 ? 0 : (max_ix + wa.pad_left) / S + 1;
      if (r.fast_hi > s.out_w) r.fast_hi = s.out_w;
      r.out = a.output + size_t(row) * s.out_w * s.out_c;
      if (S == 1)
        row3x3<1, kSpread>(p, r, e);
      else
        row3x3<2, kSpread>(p, r, e);
    }
    return;
  }
  QDwconvWindow win(a);
  for (int row = a.row_begin; row < a.row_end; ++row) {
    const int n = row / s.out_h, oy = row % s.out_h;
    const int8_t* image = a.input + size_t(n) * s.in_h * s.in_w * s.in_c;
    for (int ox = 0; ox < s.out_w; ++ox) {
      win.fill(image, oy, ox);
      int8_t* out = a.output + (size_t(row) * s.out_w + ox) * s.out_c;
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
