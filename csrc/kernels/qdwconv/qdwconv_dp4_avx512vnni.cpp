// AVX-512 VNNI int8 depthwise for 3x3 windows (any stride, padding and dilation) and
// multipliers 1, 2, 4, 8, 16, three taps per vpdpbusd lane (qdwconv_dp4.h). Up to kQDp4Rows
// output rows at a time: per row, the input columns its windows read are staged as one dword
// per (column, input channel), the bytes of window rows 0-2 and a zero, as x ^ 0x80 (one
// interleave of the 3 input rows; taps outside the image read the zero point, which the pack
// folded into the bias with the +128); then per group of 4 chunks of 16 output channels,
// weights in registers across the rows, each pixel takes per chunk 3 broadcast loads (window
// columns 0-2) and 3 vpdpbusd, and the 4 chunks are requantized (requantize.h) and narrowed
// together (packs, one vpermd, one pshufb back to output order). The staging reads the input
// with 64-byte loads inside the rows and a masked load for the last bytes of a row: nothing
// past the tensor. Other windows and multipliers: qdwconv_avx512vnni.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/qdwconv/qdwconv.h"
#include "kernels/qdwconv/qdwconv_dp4.h"

namespace attocore {
namespace {

constexpr int kCw = 16;

struct Epi {
  __m512 lo, hi;
  __m512i zp;        // int16 lanes
  __m512i lo8, hi8;  // int8 lanes: lo, hi
};

// The input columns an output row reads, ix in [-pad_left, (out_w - 1) stride_w - pad_left +
// 2 dilation_w], into stage: column j (ix = j - pad_left) at stage + j in_c, input channel c
// at dword c: bytes (row 0, row 1, row 2, 0) as x ^ 0x80 (outside the image: the zero
// point's). The image's columns are one interleave of the 3 rows' in_w in_c bytes (64 at a
// time, the last ones through a masked load, storing up to 63 dwords more, which the zero
// point columns after them then overwrite or the stage's slack takes).
void stage_row(const DwconvShape& s, const int8_t* const rows[3], int32_t x_zp, int32_t* stage) {
  const WindowAttrs& wa = s.window;
  const int in_c = s.in_c, pl = wa.pad_left;
  const int columns = (s.out_w - 1) * wa.stride_w + 2 * wa.dilation_w + 1;
  const int32_t zp_dword = int32_t(uint32_t(uint8_t(x_zp ^ 0x80)) * 0x010101u);
  const int left = pl < columns ? pl : columns;
  for (size_t i = 0; i < size_t(left) * in_c; ++i) stage[i] = zp_dword;
  int32_t* d = stage + size_t(pl) * in_c;
  const int image_columns = columns - pl < s.in_w ? columns - pl : s.in_w;
  if (image_columns > 0) {
    const size_t bytes = size_t(image_columns) * in_c;
    const __m512i flip64 = _mm512_set1_epi8(int8_t(0x80)), zero64 = _mm512_setzero_si512();
    const __m512i zp64 = _mm512_set1_epi8(int8_t(x_zp));
    auto interleave = [&](size_t i, __m512i a0, __m512i a1, __m512i a2) {
      a0 = _mm512_xor_si512(a0, flip64), a1 = _mm512_xor_si512(a1, flip64), a2 = _mm512_xor_si512(a2, flip64);
      const __m512i l = _mm512_unpacklo_epi8(a0, a1), h = _mm512_unpackhi_epi8(a0, a1);
      const __m512i l2 = _mm512_unpacklo_epi8(a2, zero64), h2 = _mm512_unpackhi_epi8(a2, zero64);
      // q[m] lane L: the dwords of bytes i + 16 L + 4 m ..; a 4 x 4 transpose of the lanes
      // makes 64 contiguous bytes of each lane L.
      const __m512i q0 = _mm512_unpacklo_epi16(l, l2), q1 = _mm512_unpackhi_epi16(l, l2);
      const __m512i q2 = _mm512_unpacklo_epi16(h, h2), q3 = _mm512_unpackhi_epi16(h, h2);
      const __m512i t0 = _mm512_shuffle_i64x2(q0, q1, 0x44), t1 = _mm512_shuffle_i64x2(q2, q3, 0x44);
      const __m512i t2 = _mm512_shuffle_i64x2(q0, q1, 0xEE), t3 = _mm512_shuffle_i64x2(q2, q3, 0xEE);
      _mm512_storeu_si512(d + i, _mm512_shuffle_i64x2(t0, t1, 0x88));
      _mm512_storeu_si512(d + i + 16, _mm512_shuffle_i64x2(t0, t1, 0xDD));
      _mm512_storeu_si512(d + i + 32, _mm512_shuffle_i64x2(t2, t3, 0x88));
      _mm512_storeu_si512(d + i + 48, _mm512_shuffle_i64x2(t2, t3, 0xDD));
    };
    const int8_t* r0 = rows[0];
    const int8_t* r1 = rows[1];
    const int8_t* r2 = rows[2];
    auto ld = [&](const int8_t* r, size_t i) { return r ? _mm512_loadu_si512(r + i) : zp64; };
    size_t i = 0;
    for (; i + 64 <= bytes; i += 64) interleave(i, ld(r0, i), ld(r1, i), ld(r2, i));
    if (i < bytes) {
      const __mmask64 m = bytes - i >= 64 ? ~__mmask64(0) : (__mmask64(1) << (bytes - i)) - 1;
      auto ml = [&](const int8_t* r) { return r ? _mm512_maskz_loadu_epi8(m, r + i) : zp64; };
      interleave(i, ml(r0), ml(r1), ml(r2));
    }
  }
  for (size_t i = size_t(pl + (image_columns > 0 ? image_columns : 0)) * in_c; i < size_t(columns) * in_c; ++i)
    stage[i] = zp_dword;
}

// n = 16 / K dwords from p, repeated across the 16 lanes (lane i: p[i % n]).
template <int K>
inline __m512i broadcast(const int32_t* p) {
  if (K == 1) return _mm512_loadu_si512(p);
  if (K == 2) return _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  if (K == 4) return _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  if (K == 8) {
    int64_t v;
    std::memcpy(&v, p, 8);
    return _mm512_set1_epi64(v);
  }
  return _mm512_set1_epi32(*p);
}

// Chunks [g, g + G) (G <= 4) over the output row (out): column ox reads staged columns
// ox S + kx D. The sums are requantized (requantize.h) to int32 in [lo - zp, hi - zp],
// packed to int16 (exact), the zero point added there, packed to bytes (exact: inside
// [lo, hi]); or, kIntClamp (the pack found |acc * multiplier| < 2^30 for every possible
// sum), rounded unclamped, packed, zero point added and packed with signed saturation
// (monotone, exact inside int8) and clamped to [lo, hi] as bytes: clamping commutes with
// rounding to integers for integer bounds, so the bits are the same; the 4-byte groups gathered per chunk by one vpermd and each chunk's bytes put in
// output order by one pshufb; stored 16 bytes per chunk (a byte mask for a partial one).
template <int K, int G, bool kIntClamp>
inline void compute_group(const PackedQDwconv& p, const int32_t* stage, size_t sd, int nr, int plane, int out_w,
                          int out_c, int S, int D, int g, int8_t* out, const Epi& e) {
  const size_t step = size_t(S) * plane, tap = size_t(D) * plane;
  const __m512i map = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(&p.aux[1])));
  const __m512i gather = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const int o0 = g * kCw, left = out_c - (g + G - 1) * kCw;  // the last chunk's
  const __mmask16 mask = left >= kCw ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
  __m512i w[G][3], bias[G];
  __m512 mult[G];
  const int32_t* st[G];
  _Pragma("GCC unroll 4") for (int m = 0; m < G; ++m) {
    const int8_t* wp = p.weights.data() + size_t(g + m) * 3 * kCw * 4;
    _Pragma("GCC unroll 3") for (int kx = 0; kx < 3; ++kx) w[m][kx] = _mm512_loadu_si512(wp + 64 * kx);
    bias[m] = _mm512_loadu_si512(p.bias.data() + o0 + m * kCw);
    mult[m] = _mm512_loadu_ps(p.multiplier.data() + o0 + m * kCw);
    st[m] = stage + p.aux[size_t(g + m) * 5];
  }
  int8_t* o = out + o0;
  for (int r = 0; r < nr; ++r)
  for (int ox = 0; ox < out_w; ++ox, o += out_c) {
    const size_t off = size_t(r) * sd + size_t(ox) * step;
    __m512i t[4];
    _Pragma("GCC unroll 4") for (int m = 0; m < G; ++m) {
      const int32_t* q = st[m] + off;
      __m512i acc = _mm512_dpbusd_epi32(bias[m], broadcast<K>(q), w[m][0]);
      acc = _mm512_dpbusd_epi32(acc, broadcast<K>(q + tap), w[m][1]);
      acc = _mm512_dpbusd_epi32(acc, broadcast<K>(q + 2 * tap), w[m][2]);
      __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), mult[m]);
      if (!kIntClamp) y = _mm512_min_ps(_mm512_max_ps(y, e.lo), e.hi);
      t[m] = _mm512_cvtps_epi32(y);
    }
    _Pragma("GCC unroll 4") for (int m = G; m < 4; ++m) t[m] = t[0];
    __m512i ab = _mm512_packs_epi32(t[0], t[1]), cd = G > 2 ? _mm512_packs_epi32(t[2], t[3]) : ab;
    ab = kIntClamp ? _mm512_adds_epi16(ab, e.zp) : _mm512_add_epi16(ab, e.zp);
    cd = G <= 2 ? ab : kIntClamp ? _mm512_adds_epi16(cd, e.zp) : _mm512_add_epi16(cd, e.zp);
    __m512i packed = _mm512_packs_epi16(ab, cd);
    if (kIntClamp) packed = _mm512_min_epi8(_mm512_max_epi8(packed, e.lo8), e.hi8);
    __m512i bytes = _mm512_permutexvar_epi32(gather, packed);
    if (K > 1) bytes = _mm512_shuffle_epi8(bytes, map);
    // Lane indices spelled out: the extract's lane must be an immediate (clang refuses a loop
    // variable even where the loop is unrolled).
    if (G > 1) _mm_storeu_si128(reinterpret_cast<__m128i*>(o), _mm512_extracti32x4_epi32(bytes, 0));
    if (G > 2) _mm_storeu_si128(reinterpret_cast<__m128i*>(o + kCw), _mm512_extracti32x4_epi32(bytes, 1));
    if (G > 3) _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 2 * kCw), _mm512_extracti32x4_epi32(bytes, 2));
    _mm_mask_storeu_epi8(o + (G - 1) * kCw, mask, _mm512_extracti32x4_epi32(bytes, G - 1));
  }
}

template <int K, bool kIntClamp>
__attribute__((noinline)) void compute_row(const PackedQDwconv& p, const int32_t* stage, size_t sd, int nr, int plane, int out_w,
                                           int out_c, int S, int D, int8_t* out, const Epi& e) {
  int g = 0;
  for (; g + 4 <= p.chunks; g += 4) compute_group<K, 4, kIntClamp>(p, stage, sd, nr, plane, out_w, out_c, S, D, g, out, e);
  switch (p.chunks - g) {
    case 3: return compute_group<K, 3, kIntClamp>(p, stage, sd, nr, plane, out_w, out_c, S, D, g, out, e);
    case 2: return compute_group<K, 2, kIntClamp>(p, stage, sd, nr, plane, out_w, out_c, S, D, g, out, e);
    case 1: return compute_group<K, 1, kIntClamp>(p, stage, sd, nr, plane, out_w, out_c, S, D, g, out, e);
    default: return;
  }
}

template <int K>
void run(const QDwconvArgs& a) {
  const DwconvShape& s = *a.shape;
  const PackedQDwconv& p = *a.weights;
  const WindowAttrs& wa = s.window;
  const Epi e{_mm512_set1_ps(float(a.ep.lo - a.ep.zero_point)), _mm512_set1_ps(float(a.ep.hi - a.ep.zero_point)),
              _mm512_set1_epi16(int16_t(a.ep.zero_point)), _mm512_set1_epi8(int8_t(a.ep.lo)),
              _mm512_set1_epi8(int8_t(a.ep.hi))};
  const bool int_clamp = p.aux[size_t(p.chunks) * 5] != 0;
  // Scratch (qdwconv_scratch_bytes): the stage on a cache line.
  int32_t* stage = reinterpret_cast<int32_t*>((reinterpret_cast<uintptr_t>(a.scratch) + 63) & ~uintptr_t(63));
  // Up to kQDp4Rows output rows at a time, enough for about 32 pixels (each group of chunks'
  // weights then serves them all).
  const size_t sd = qdwconv_dp4_stage_dwords(s);
  const int want = (32 + s.out_w - 1) / s.out_w, group = want < kQDp4Rows ? want : kQDp4Rows;
  for (int row0 = a.row_begin; row0 < a.row_end; row0 += group) {
    const int nr = a.row_end - row0 < group ? a.row_end - row0 : group;
    for (int r = 0; r < nr; ++r) {
      const int row = row0 + r, n = row / s.out_h, oy = row % s.out_h;
      const int8_t* image = a.input + size_t(n) * s.in_h * s.in_w * s.in_c;
      const int8_t* rows[3];  // null: padding
      for (int ky = 0; ky < 3; ++ky) {
        const int iy = oy * wa.stride_h - wa.pad_top + ky * wa.dilation_h;
        rows[ky] = iy >= 0 && iy < s.in_h ? image + size_t(iy) * s.in_w * s.in_c : nullptr;
      }
      stage_row(s, rows, p.x_zero_point, stage + r * sd);
    }
    int8_t* out = a.output + size_t(row0 - a.output_row0) * s.out_w * s.out_c;
    if (int_clamp)
      compute_row<K, true>(p, stage, sd, nr, s.in_c, s.out_w, s.out_c, wa.stride_w, wa.dilation_w, out, e);
    else
      compute_row<K, false>(p, stage, sd, nr, s.in_c, s.out_w, s.out_c, wa.stride_w, wa.dilation_w, out, e);
  }
}

}  // namespace

// qdwconv_avx512vnni_dp4_pack: qdwconv_pack.cpp.

void qdwconv_avx512vnni_dp4(const QDwconvArgs& a) {
  if (!qdwconv_dp4_applies(*a.shape)) return qdwconv_avx512vnni(a);
  switch (a.shape->multiplier) {
    case 1: return run<1>(a);
    case 2: return run<2>(a);
    case 4: return run<4>(a);
    case 8: return run<8>(a);
    default: return run<16>(a);
  }
}

}  // namespace attocore
