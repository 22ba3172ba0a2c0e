// The x86 int8 depthwise variants' 3x3 path (dilation 1, column stride 1 or 2, any padding
// and row stride), written once over a vector type Vec (qdwconv_avx2.cpp,
// qdwconv_avx512vnni.cpp): per output row and chunk of Vec::kCw output channels, the chunk's
// 9 weights are loaded once and each input column of the 3 window rows is spread to the
// lanes once (Vec::spread: one load, a pshufb unless the multiplier is 1, sign extension to
// int32) and used by every pixel whose window holds it (3 for stride 1, 1-2 for stride 2).
// Padding reads the zero point (a register for columns, a zero-point row in the scratch for
// rows), which the pack folded into the bias. Pixels whose new columns are inside the row
// and whose loads (kQDwconvReadSlack bytes) stay inside the tensor load unchecked; the
// others check each column and copy the tensor's last bytes before loading them.
// Internal linkage: each ISA object gets its own copy (no weak symbols).
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstring>

#include "kernels/qdwconv/qdwconv.h"
#include "kernels/qdwconv/qdwconv_taps.h"

namespace attocore {
namespace {

inline bool qdwconv_row3_applies(const DwconvShape& s) {
  const WindowAttrs& w = s.window;
  return w.kernel_h == 3 && w.kernel_w == 3 && w.dilation_h == 1 && w.dilation_w == 1 &&
         (w.stride_w == 1 || w.stride_w == 2);
}

struct QRow3 {
  const int8_t* rows[3];  // window row ky's input row (the zero-point row where padding)
  bool real[3];
  const int8_t* end;      // one past the input tensor
  int8_t* out;            // the output row
  int in_w, in_c, out_w, out_c, pl;
  int fast_lo, fast_hi;   // pixels whose new columns load unchecked
};

// Not inlined: inside its caller GCC spills the vectors it keeps in registers.
template <class Vec, int S, bool kSpread>
__attribute__((noinline)) void qdwconv_row3(const PackedQDwconv& p, const QRow3& r, const typename Vec::Requant& rq) {
  using V = typename Vec::V;
  constexpr int kCw = Vec::kCw;
  const int in_w = r.in_w, in_c = r.in_c, out_w = r.out_w, out_c = r.out_c, pl = r.pl;
  const V zpx = Vec::splat(p.x_zero_point);
  for (int ch = 0; ch < p.chunks; ++ch) {
    const int c0 = p.aux[size_t(ch) * 5], o0 = ch * kCw;
    const __m128i map = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&p.aux[size_t(ch) * 5 + 1]));
    const typename Vec::Out store(rq, p.multiplier.data() + o0, out_c - o0);
    const V bias = Vec::load(p.bias.data() + o0);
    V w[9];
    _Pragma("GCC unroll 9") for (int t = 0; t < 9; ++t) w[t] = Vec::load(p.weights.data() + (size_t(ch) * 9 + t) * kCw * 4);
    const int8_t* base[3];
    _Pragma("GCC unroll 3") for (int ky = 0; ky < 3; ++ky) base[ky] = r.rows[ky] + c0;
    int8_t* out = r.out + o0;
    auto column = [&](int ky, int ix) -> V {  // checked
      if (!r.real[ky] || ix < 0 || ix >= in_w) return zpx;
      const int8_t* q = base[ky] + size_t(ix) * in_c;
      if (r.end - q < kQDwconvReadSlack) {
        alignas(16) int8_t copy[kQDwconvReadSlack] = {};
        for (int i = 0; i < r.end - q; ++i) copy[i] = q[i];
        return Vec::template spread<kSpread>(copy, map);
      }
      return Vec::template spread<kSpread>(q, map);
    };
    V x[3][3];
    auto pixel = [&](int ox) {
      V acc[3];
      _Pragma("GCC unroll 3") for (int ky = 0; ky < 3; ++ky) {
        acc[ky] = ky == 0 ? bias : Vec::zero();
        _Pragma("GCC unroll 3") for (int kx = 0; kx < 3; ++kx) acc[ky] = Vec::dot(acc[ky], x[ky][kx], w[ky * 3 + kx]);
      }
      store(out + size_t(ox) * out_c, Vec::add(Vec::add(acc[0], acc[1]), acc[2]));
    };
    // Window ox from window ox - 1: 3 - S columns kept, S read.
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
          if (S == 2) x[ky][1] = Vec::template spread<kSpread>(q - in_c, map);
          x[ky][2] = Vec::template spread<kSpread>(q, map);
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

template <class Vec, bool kSpread>
void qdwconv_rows3x3(const QDwconvArgs& a) {
  const DwconvShape& s = *a.shape;
  const PackedQDwconv& p = *a.weights;
  const WindowAttrs& wa = s.window;
  const typename Vec::Requant rq(a.ep);
  const int8_t* end = a.input + size_t(s.batch) * s.in_h * s.in_w * s.in_c;
  int8_t* zp_row = static_cast<int8_t*>(a.scratch);  // qdwconv_scratch_bytes: in_w in_c + 128
  std::memset(zp_row, int8_t(p.x_zero_point), size_t(s.in_w) * s.in_c + kQDwconvReadSlack);
  const int S = wa.stride_w;
  QRow3 r{};
  r.end = end, r.in_w = s.in_w, r.in_c = s.in_c, r.out_w = s.out_w, r.out_c = s.out_c, r.pl = wa.pad_left;
  // New columns of window ox: ox S - pl + 3 - S .. ox S - pl + 2; the first is >= 0 from
  // fast_lo on.
  const int lead = wa.pad_left + S - 3;
  r.fast_lo = lead <= S ? 1 : (lead + S - 1) / S;
  for (int row = a.row_begin; row < a.row_end; ++row) {
    const int n = row / s.out_h, oy = row % s.out_h;
    const int8_t* image = a.input + size_t(n) * s.in_h * s.in_w * s.in_c;
    // The last is <= in_w - 1, and a load from a real row at column ix + 2 stays inside the
    // tensor: (ix + 3) in_c + slack - 1 <= end - row.
    int max_ix = s.in_w - 3;
    for (int ky = 0; ky < 3; ++ky) {
      const int iy = oy * wa.stride_h - wa.pad_top + ky;
      r.real[ky] = iy >= 0 && iy < s.in_h;
      r.rows[ky] = r.real[ky] ? image + size_t(iy) * s.in_w * s.in_c : zp_row;
      if (r.real[ky]) {
        const ptrdiff_t room = (end - r.rows[ky] - (kQDwconvReadSlack - 1)) / s.in_c - 3;
        if (room < max_ix) max_ix = int(room);
      }
    }
    r.fast_hi = max_ix + wa.pad_left < 0 ? 0 : (max_ix + wa.pad_left) / S + 1;
    if (r.fast_hi > s.out_w) r.fast_hi = s.out_w;
    r.out = a.output + size_t(row - a.output_row0) * s.out_w * s.out_c;
    if (S == 1)
      qdwconv_row3<Vec, 1, kSpread>(p, r, rq);
    else
      qdwconv_row3<Vec, 2, kSpread>(p, r, rq);
  }
}

}  // namespace
}  // namespace attocore
