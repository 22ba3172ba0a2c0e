// Int8 depthwise convolution on NEON (AArch64 and ARMv7), vectorised over 8 output channels
// of a pixel: each tap's 8 input lanes are widened to int16 as x - x_zp (vsubl_s8: exact,
// in [-255, 255]), and multiplied by the tap's weights widened to int16 into two int32x4
// accumulators (vmlal_s16: exact products, sums in int32 as the reference's).
//
// Any channel multiplier k: output channel o reads input channel o / k, so a chunk of 8
// outputs starting at o0 reads the few input channels from c0 = o0 / k on. One 8-byte load
// at c0 and a table lookup (vtbl1_s8 with the chunk's lane map, computed at pack time)
// spread them over the lanes: identity for k = 1 (no lookup), [a0 a0 a1 a1 ...] for 2,
// [a0 a0 a0 a0 a1 a1 a1 a1] for 4. Loads that would run past the end of the input (the last
// pixel's last channels) go through a copy of the bytes that exist.
//
// Pixels whose window columns all lie inside the image (any kernel up to 7x7, stride,
// dilation) take the listed path: the output row's taps inside the image (its window rows
// inside, so the top and bottom rows too) are listed once per row with their offsets, the
// chunk's weights for them widened once, and P pixels summed together (independent
// accumulators: one vmlal chain per pixel would wait on its latency). The few pixels at the
// left and right edges sum only their taps inside the image (for_each_window_tap). Either
// way a tap outside the image contributes nothing: padding with the input zero point.
#include <arm_neon.h>

#include <cstring>

#include "kernels/qdwconv/qdwconv.h"
#include "kernels/quant/requantize_neon.h"

namespace attocore {
namespace {

constexpr int kCw = 8;
// Pixels summed together on the listed path: 2P accumulators, P inputs in flight. Its tap
// loop stays rolled (widened weights and tap offsets read from the stack, one load each per
// tap for all P pixels): unrolled for 3x3, GCC 12 kept the 9 x P tap addresses in registers
// and spilled them on AArch64, and on ARMv7 (16 q registers) loaded all inputs up front and
// spilled those.
#if defined(__aarch64__)
constexpr int kPixels = 4;
#else
constexpr int kPixels = 2;
#endif

// The chunk's lane map (aux): chunk p's entry is [c0, lanes 0-3, lanes 4-7] (bytes).
constexpr int kAuxPerChunk = 3;

// 8 bytes from p; past `end` only what exists (the rest zero: lanes no output keeps).
inline int8x8_t load8_checked(const int8_t* p, const int8_t* end) {
  if (end - p >= 8) return vld1_s8(p);
  int8_t buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::memcpy(buf, p, size_t(end - p));
  return vld1_s8(buf);
}

// A tap's 8 input lanes (from the chunk's first input channel at p) minus the zero point.
template <bool kPermute>
inline int16x8_t lanes(int8x8_t bytes, int8x8_t map, int8x8_t zp) {
  if (kPermute) bytes = vtbl1_s8(bytes, map);
  return vsubl_s8(bytes, zp);
}

inline void mla(int32x4_t& lo, int32x4_t& hi, int16x8_t x, int16x8_t w) {
  lo = vmlal_s16(lo, vget_low_s16(x), vget_low_s16(w));
#if defined(__aarch64__)
  hi = vmlal_high_s16(hi, x, w);  // smlal2: no copy of the high halves
#else
  hi = vmlal_s16(hi, vget_high_s16(x), vget_high_s16(w));
#endif
}

struct Chunk {
  const int8_t* weights;  // taps x 8
  int c0;                 // first input channel read
  int8x8_t map;           // lane -> input channel - c0
  int32x4_t bias_lo, bias_hi;
  float32x4_t mult_lo, mult_hi;
  int valid;              // output channels of the chunk that exist
};

inline void store_chunk(int8_t* dst, int32x4_t lo, int32x4_t hi, const Chunk& ch, const NeonRequant& rq) {
  const int8x8_t q = narrow_s32_s8(rq(lo, ch.mult_lo), rq(hi, ch.mult_hi));
  if (ch.valid >= kCw)
    vst1_s8(dst, q);
  else
    store_s8_partial(dst, q, ch.valid);
}

// One pixel, any window: the taps inside the image, each load checked against the end. Odd
// and even taps go to two accumulator pairs, added at the end (int32 sums wrap alike in any
// order, so the bits are the reference's): two vmlal chains, half the latency of one.
template <bool kPermute>
void pixel_generic(const DwconvShape& s, const int8_t* image, const int8_t* end, int oy, int ox, const Chunk& ch,
                   int8x8_t zp, int32x4_t& lo, int32x4_t& hi) {
  int32x4_t acc[2][2] = {{ch.bias_lo, ch.bias_hi}, {vdupq_n_s32(0), vdupq_n_s32(0)}};
  for_each_window_tap(s, oy, ox, [&](int iy, int ix, int t) {
    const int8_t* p = image + (size_t(iy) * s.in_w + ix) * s.in_c + ch.c0;
    const int16x8_t x = lanes<kPermute>(load8_checked(p, end), ch.map, zp), w = vmovl_s8(vld1_s8(ch.weights + kCw * t));
    if (t & 1)
      mla(acc[1][0], acc[1][1], x, w);
    else
      mla(acc[0][0], acc[0][1], x, w);
  });
  lo = vaddq_s32(acc[0][0], acc[1][0]), hi = vaddq_s32(acc[0][1], acc[1][1]);
}

// P pixels (step bytes apart in the input) whose window columns are all inside the image,
// from the first pixel's window column at its chunk's c0 (`base`): the row's `count` taps
// inside the image, tap i at base + off[i] with widened weights w[i]. No load here passes
// the end of the input (the caller checked the last one).
template <bool kPermute, int P>
inline void pixels_listed(const int8_t* base, ptrdiff_t step, const ptrdiff_t* off, const int16x8_t* w, int count,
                          const Chunk& ch, int8x8_t zp, int32x4_t (&lo)[P], int32x4_t (&hi)[P]) {
  for (int px = 0; px < P; ++px) lo[px] = ch.bias_lo, hi[px] = ch.bias_hi;
  _Pragma("GCC unroll 1") for (int i = 0; i < count; ++i)
    for (int px = 0; px < P; ++px) mla(lo[px], hi[px], lanes<kPermute>(vld1_s8(base + px * step + off[i]), ch.map, zp), w[i]);
}

// Windows of up to this many taps (7x7) take the listed path; larger ones only the generic.
constexpr int kMaxListedTaps = 49;

template <bool kPermute>
void run(const QDwconvArgs& a) {
  const DwconvShape& s = *a.shape;
  const WindowAttrs& win = s.window;
  const PackedQDwconv& p = *a.weights;
  const NeonRequant rq(a.ep);
  const int8x8_t zp = vdup_n_s8(int8_t(p.x_zero_point));  // an int8 tensor's zero point is an int8 value
  const size_t image_bytes = size_t(s.in_h) * s.in_w * s.in_c;
  const int8_t* end = a.input + size_t(s.batch) * image_bytes;
  // Output columns whose window's columns are all inside the image: [ox_lo, ox_hi).
  const auto inside_x = [&](int ox) {
    const int ix = ox * win.stride_w - win.pad_left;
    return ix >= 0 && ix + (win.kernel_w - 1) * win.dilation_w < s.in_w;
  };
  int ox_lo = 0, ox_hi = s.out_w;
  while (ox_lo < s.out_w && !inside_x(ox_lo)) ++ox_lo;
  while (ox_hi > ox_lo && !inside_x(ox_hi - 1)) --ox_hi;
  if (p.taps > kMaxListedTaps) ox_lo = ox_hi = s.out_w;
  const ptrdiff_t step = ptrdiff_t(win.stride_w) * s.in_c;

  for (int row = a.row_begin; row < a.row_end; ++row) {
    const int n = row / s.out_h, oy = row % s.out_h;
    const int8_t* image = a.input + size_t(n) * image_bytes;
    int8_t* out_row = a.output + size_t(row - a.output_row0) * s.out_w * s.out_c;
    // The row's taps inside the image (window rows inside, every column), in increasing
    // offset order: off from the window's first column in image row 0.
    ptrdiff_t off[kMaxListedTaps];
    int tap[kMaxListedTaps], count = 0;
    for (int ky = 0; ox_lo < ox_hi && ky < win.kernel_h; ++ky) {
      const int iy = oy * win.stride_h - win.pad_top + ky * win.dilation_h;
      if (iy < 0 || iy >= s.in_h) continue;
      for (int kx = 0; kx < win.kernel_w; ++kx, ++count) {
        off[count] = (ptrdiff_t(iy) * s.in_w + ptrdiff_t(kx) * win.dilation_w) * s.in_c;
        tap[count] = ky * win.kernel_w + kx;
      }
    }
    const int fast_lo = count ? ox_lo : s.out_w, fast_hi = count ? ox_hi : s.out_w;
    for (int c = 0; c < p.chunks; ++c) {
      const int32_t* aux = p.aux.data() + size_t(c) * kAuxPerChunk;
      Chunk ch;
      ch.weights = p.weights.data() + size_t(c) * p.taps * kCw;
      ch.c0 = aux[0];
      ch.map = vreinterpret_s8_s32(vld1_s32(aux + 1));
      ch.bias_lo = vld1q_s32(p.bias.data() + c * kCw), ch.bias_hi = vld1q_s32(p.bias.data() + c * kCw + 4);
      ch.mult_lo = vld1q_f32(p.multiplier.data() + c * kCw), ch.mult_hi = vld1q_f32(p.multiplier.data() + c * kCw + 4);
      ch.valid = s.out_c - c * kCw < kCw ? s.out_c - c * kCw : kCw;
      int8_t* out = out_row + c * kCw;
      int32x4_t lo[kPixels], hi[kPixels];
      int ox = 0;
      for (; ox < fast_lo; ++ox) {
        pixel_generic<kPermute>(s, image, end, oy, ox, ch, zp, lo[0], hi[0]);
        store_chunk(out + size_t(ox) * s.out_c, lo[0], hi[0], ch, rq);
      }
      if (fast_lo < fast_hi) {
        int16x8_t w[kMaxListedTaps];
        for (int i = 0; i < count; ++i) w[i] = vmovl_s8(vld1_s8(ch.weights + kCw * tap[i]));
        const auto base_of = [&](int x) { return image + ptrdiff_t(x * win.stride_w - win.pad_left) * s.in_c + ch.c0; };
        const ptrdiff_t last = off[count - 1];
        for (; ox + kPixels <= fast_hi; ox += kPixels) {
          const int8_t* base = base_of(ox);
          if (end - (base + (kPixels - 1) * step + last) < 8) break;  // the input's last bytes
          pixels_listed<kPermute, kPixels>(base, step, off, w, count, ch, zp, lo, hi);
          for (int px = 0; px < kPixels; ++px) store_chunk(out + size_t(ox + px) * s.out_c, lo[px], hi[px], ch, rq);
        }
        for (; ox < fast_hi && end - (base_of(ox) + last) >= 8; ++ox) {  // the row's last few
          int32x4_t lo1[1], hi1[1];
          pixels_listed<kPermute, 1>(base_of(ox), step, off, w, count, ch, zp, lo1, hi1);
          store_chunk(out + size_t(ox) * s.out_c, lo1[0], hi1[0], ch, rq);
        }
      }
      for (; ox < s.out_w; ++ox) {
        pixel_generic<kPermute>(s, image, end, oy, ox, ch, zp, lo[0], hi[0]);
        store_chunk(out + size_t(ox) * s.out_c, lo[0], hi[0], ch, rq);
      }
    }
  }
}

}  // namespace

PackedQDwconv qdwconv_neon_pack(const DwconvShape& s, const int8_t* w_oihw, const int32_t* bias,
                                const float* multiplier, int32_t x_zero_point) {
  PackedQDwconv p;
  p.cw = kCw;
  p.taps = s.window.kernel_h * s.window.kernel_w;
  p.chunks = (s.out_c + kCw - 1) / kCw;
  p.x_zero_point = x_zero_point;
  p.weights.assign(size_t(p.chunks) * p.taps * kCw, 0);
  p.bias.assign(size_t(p.chunks) * kCw, 0);
  p.multiplier.assign(size_t(p.chunks) * kCw, 0.f);
  p.aux.assign(size_t(p.chunks) * kAuxPerChunk, 0);
  for (int o = 0; o < s.out_c; ++o) {
    const int c = o / kCw, lane = o % kCw;
    for (int t = 0; t < p.taps; ++t) p.weights[(size_t(c) * p.taps + t) * kCw + lane] = w_oihw[size_t(o) * p.taps + t];
    p.bias[o] = bias ? bias[o] : 0;
    p.multiplier[o] = multiplier[o];
  }
  for (int c = 0; c < p.chunks; ++c) {
    const int c0 = c * kCw / s.multiplier;
    uint8_t map[kCw] = {};  // lanes past out_c read c0: they exist and are never stored
    for (int lane = 0; lane < kCw && c * kCw + lane < s.out_c; ++lane) map[lane] = uint8_t((c * kCw + lane) / s.multiplier - c0);
    int32_t* aux = p.aux.data() + size_t(c) * kAuxPerChunk;
    aux[0] = c0;
    std::memcpy(aux + 1, map, kCw);
  }
  return p;
}

void qdwconv_neon(const QDwconvArgs& a) {
  if (a.shape->multiplier == 1)
    run<false>(a);
  else
    run<true>(a);
}

}  // namespace attocore
