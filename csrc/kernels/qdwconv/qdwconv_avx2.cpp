// AVX2 int8 depthwise: qdwconv_avx512vnni.cpp's method on 8 int32 lanes. Per tap, 8 input
// bytes (one 8-byte load: 8 channels for multiplier 1, 4 or 2 for 2 or 4) spread to the lanes
// by pshufb (skipped for multiplier 1), sign-extended to int32 and multiplied by vpmaddwd
// against [w, 0] int16 pairs (exact: x * w + sign bits * 0), summed by vpaddd. 3x3 windows:
// qdwconv_row3.h; others a pixel at a time, up to 4 chunks at a time, window edges and the
// end of the input as qdwconv_taps.h says.
#include <immintrin.h>

#include "kernels/qdwconv/qdwconv.h"
#include "kernels/qdwconv/qdwconv_row3.h"
#include "kernels/qdwconv/qdwconv_taps.h"
#include "kernels/qgemm/qgemm_store_avx2.h"

namespace attocore {
namespace {

constexpr int kCw = 8;

template <bool kSpread>
inline __m256i tap_input(const int8_t* p, __m128i map) {
  __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  if (kSpread) b = _mm_shuffle_epi8(b, map);
  return _mm256_cvtepi8_epi32(b);
}

inline __m256i load(const void* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// Chunks [ch, ch + G) of one output pixel (not inlined: GCC spills its sums if it is).
template <int G, bool kSpread>
__attribute__((noinline)) void chunks(const PackedQDwconv& p, const DwconvShape& s, const int8_t* const* src, int ch, int8_t* out,
            const QStoreAvx2& store) {
  __m256i acc[G];
  __m128i map[G];
  int c0[G];
  const int8_t* w[G];
  _Pragma("GCC unroll 4") for (int g = 0; g < G; ++g) {
    acc[g] = load(p.bias.data() + size_t(ch + g) * kCw);
    c0[g] = p.aux[size_t(ch + g) * 5];
    map[g] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&p.aux[size_t(ch + g) * 5 + 1]));
    w[g] = p.weights.data() + size_t(ch + g) * p.taps * kCw * 4;
  }
  for (int t = 0; t < p.taps; ++t) {
    _Pragma("GCC unroll 4") for (int g = 0; g < G; ++g) {
      const __m256i x = tap_input<kSpread>(src[t] + c0[g], map[g]);
      acc[g] = _mm256_add_epi32(acc[g], _mm256_madd_epi16(x, load(w[g] + size_t(t) * kCw * 4)));
    }
  }
  _Pragma("GCC unroll 4") for (int g = 0; g < G; ++g) {
    const int o0 = (ch + g) * kCw;
    store(out + o0, s.out_c - o0, acc[g], _mm256_loadu_ps(p.multiplier.data() + o0));
  }
}

// The vector vocabulary of qdwconv_row3.h on ymm.
struct Vec256 {
  using V = __m256i;
  static constexpr int kCw = 8;
  template <bool kSpread>
  static V spread(const int8_t* p, __m128i map) { return tap_input<kSpread>(p, map); }
  static V splat(int32_t v) { return _mm256_set1_epi32(v); }
  static V load(const void* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static V zero() { return _mm256_setzero_si256(); }
  static V dot(V acc, V x, V w) { return _mm256_add_epi32(acc, _mm256_madd_epi16(x, w)); }
  static V add(V a, V b) { return _mm256_add_epi32(a, b); }
  using Requant = QStoreAvx2;
  struct Out {
    const QStoreAvx2& store;
    __m256 mult;
    int left;
    Out(const QStoreAvx2& rq, const float* m, int cols) : store(rq), mult(_mm256_loadu_ps(m)), left(cols) {}
    void operator()(int8_t* out, V acc) const { store(out, left, acc, mult); }
  };
};

template <bool kSpread>
void run(const QDwconvArgs& a) {
  const DwconvShape& s = *a.shape;
  const PackedQDwconv& p = *a.weights;
  if (qdwconv_row3_applies(s)) return qdwconv_rows3x3<Vec256, kSpread>(a);
  QDwconvWindow win(a);
  const QStoreAvx2 store(a.ep);
  for (int row = a.row_begin; row < a.row_end; ++row) {
    const int n = row / s.out_h, oy = row % s.out_h;
    const int8_t* image = a.input + size_t(n) * s.in_h * s.in_w * s.in_c;
    for (int ox = 0; ox < s.out_w; ++ox) {
      win.fill(image, oy, ox);
      int8_t* out = a.output + (size_t(row - a.output_row0) * s.out_w + ox) * s.out_c;
      int ch = 0;
      for (; ch + 4 <= p.chunks; ch += 4) chunks<4, kSpread>(p, s, win.src, ch, out, store);
      switch (p.chunks - ch) {
        case 3: chunks<3, kSpread>(p, s, win.src, ch, out, store); break;
        case 2: chunks<2, kSpread>(p, s, win.src, ch, out, store); break;
        case 1: chunks<1, kSpread>(p, s, win.src, ch, out, store); break;
        default: break;
      }
    }
  }
}

}  // namespace

// qdwconv_avx2_pack: qdwconv_pack.cpp.

void qdwconv_avx2(const QDwconvArgs& a) {
  if (a.shape->multiplier == 1)
    run<false>(a);
  else
    run<true>(a);
}

}  // namespace attocore
