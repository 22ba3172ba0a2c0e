// NEON fp16 depthwise convolution (dwconv_kernels.inc; precision "fp16": aarch64 with
// FEAT_FP16, this file alone compiled with -march=armv8.2-a+fp16): 8 output channels per
// float16x8_t, binary16 weights and bias (pack_dwconv, DwconvWeights::kHalf), fp16 FMAs.
// Activations stay fp32 in the arena: the window rows a call reads are converted to binary16
// once into the thread's scratch (dwconv_half_rows.h: spread by the multiplier, zero padded;
// kept across the bands of a fused step), and the output is widened back to fp32 at the
// store. Converting at each load instead would spend as many FP-pipe instructions (fcvtn +
// fcvtn2 per 8 channels) as the FMAs it saves: a 3x3 input vector feeds only ~3 taps per
// window row. Staged, a stride-1 row is converted once for the three output rows that read it.
//
// Accumulation, per output: s = half(bias); then for each window row inside the image (top
// to bottom) and each of its taps (left to right), s = fma16(s, half(x), half(w)), each FMA
// rounded once to binary16 (padding columns add an exact zero); y = clamp(float(s)) in fp32.
// Bound and tests: docs/DESIGN.md, "fp16 precision"; tests/cpp/test_fp16_dwconv_kernels.cpp.
#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "kernels/dwconv/dwconv.h"
#include "kernels/dwconv/dwconv_half_rows.h"
#include "kernels/simd/clamp.h"
#include "kernels/simd/vec_neon.h"

namespace attocore {
namespace {

constexpr int L = DwconvHalfRows::kLanes;

// 8 floats from x as halves: two loads, fcvtn and fcvtn2.
inline float16x8_t load_half8(const float* x) { return vcvt_high_f16_f32(vcvt_f16_f32(vld1q_f32(x)), vld1q_f32(x + 4)); }

// The K chunks (K = 1, 2, 4) that 8 consecutive input channels h feed under multiplier K:
// each input repeated K times by zips (one level for K = 2, two for 4).
template <int K>
__attribute__((always_inline)) inline void spread(float16x8_t h, float16x8_t (&out)[K]) {
  if constexpr (K == 1) {
    out[0] = h;
  } else if constexpr (K == 2) {
    out[0] = vzip1q_f16(h, h), out[1] = vzip2q_f16(h, h);
  } else {
    const float16x8_t lo = vzip1q_f16(h, h), hi = vzip2q_f16(h, h);
    out[0] = vzip1q_f16(lo, lo), out[1] = vzip2q_f16(lo, lo), out[2] = vzip1q_f16(hi, hi), out[3] = vzip2q_f16(hi, hi);
  }
}

// One image pixel's in_c floats as `channels` halves in output-channel order (channel oc:
// input oc / multiplier), for multipliers K = 1, 2, 4: 8 input channels (K chunks) per step,
// two steps per iteration written loads first: a step's loads, converts and zips are a chain
// of dependent instructions, which an in-order core (A55) runs back to back unless two are
// interleaved (llvm-mca, A55, multiplier 4: 29 cycles per 16 outputs one 4-input step at a
// time). The loads may reach past the pixel's channels (into the next pixel, or
// kDwconvInputSlack past the tensor) only for lanes past out_c, never stored.
template <int K>
inline void stage_pixel_spread(const DwconvHalfRows& g, const float* x, float16_t* d) {
  const int chunks = g.channels / L;
  int c = 0;
  for (; c + 2 * K <= chunks; c += 2 * K, x += 16, d += 2 * K * L) {
    const float16x8_t h0 = load_half8(x), h1 = load_half8(x + 8);
    float16x8_t out0[K], out1[K];
    spread<K>(h0, out0);
    spread<K>(h1, out1);
    _Pragma("GCC unroll 4") for (int i = 0; i < K; ++i) vst1q_f16(d + i * L, out0[i]);
    _Pragma("GCC unroll 4") for (int i = 0; i < K; ++i) vst1q_f16(d + (K + i) * L, out1[i]);
  }
  for (; c < chunks; c += K, x += 8, d += K * L) {
    float16x8_t out[K];
    spread<K>(load_half8(x), out);
    _Pragma("GCC unroll 4") for (int i = 0; i < K; ++i) if (c + i < chunks) vst1q_f16(d + i * L, out[i]);
  }
}

inline void stage_pixel(const DwconvShape& s, const DwconvHalfRows& g, const float* x, float16_t* d) {
  switch (s.multiplier) {
    case 1: return stage_pixel_spread<1>(g, x, d);
    case 2: return stage_pixel_spread<2>(g, x, d);
    case 4: return stage_pixel_spread<4>(g, x, d);
    default:
      for (int oc = 0; oc < g.channels; ++oc) d[oc] = oc < s.out_c ? float16_t(x[oc / s.multiplier]) : float16_t(0);
  }
}

// Image row `src` staged at `dst` (g.columns x g.channels halves): pad_left zero columns,
// the image, zero columns to the end.
void stage_row(const DwconvShape& s, const DwconvHalfRows& g, const float* src, float16_t* dst) {
  const float16x8_t zero = vdupq_n_f16(0);
  const int image_end = s.window.pad_left + s.in_w;  // <= g.columns
  float16_t* d = dst;
  for (int i = 0; i < s.window.pad_left * (g.channels / L); ++i, d += L) vst1q_f16(d, zero);
  for (int ix = 0; ix < s.in_w; ++ix, d += g.channels) stage_pixel(s, g, src + size_t(ix) * s.in_c, d);
  for (int i = 0; i < (g.columns - image_end) * (g.channels / L); ++i, d += L) vst1q_f16(d, zero);
}

// A few ints or pointers per call (one per window row), without a heap allocation for the
// windows that occur (kernel_h <= 16).
template <typename T>
struct WindowRowsArray {
  T local[16];
  std::unique_ptr<T[]> heap;
  T* v;
  explicit WindowRowsArray(int n) : v(n <= 16 ? local : (heap.reset(new T[n]), heap.get())) {}
};

// The staged rows: g.slots rows in scratch, each tagged with the image row it holds
// (batch * in_h + iy; -1 empty). The tags live in the scratch after the rows, kept from the
// call before when this one continues it (DwconvArgs::continues), else cleared: the scratch
// is shared with the thread's other steps.
class StagedRows {
 public:
  StagedRows(const DwconvShape& s, const DwconvHalfRows& g, float* scratch, bool continues)
      : s_(s), g_(g), base_(reinterpret_cast<float16_t*>(scratch)), tags_(scratch + g.tags_offset_floats()) {
    if (continues) {
      // Tags another layer or a clobbered scratch left are not trusted: two slots claiming the
      // same row, or a tag below -1, would leave row() without a free slot (a write before the
      // scratch). Distinct tags always leave one: the row staged is among the kept ones.
      for (int i = 0; i < g.slots && continues; ++i) {
        continues = tag_of(i) >= -1;
        for (int j = 0; j < i && continues; ++j) continues = tag_of(j) < 0 || tag_of(j) != tag_of(i);
      }
    }
    if (!continues)
      for (int i = 0; i < g.slots; ++i) set_tag(i, -1);
  }
  // Image row `key` (whose floats are at src), staged unless a slot holds it already, in a
  // slot none of `keep` (the current output row's rows, g.slots of them, -1 for padding) holds.
  const float16_t* row(int key, const float* src, const int* keep) {
    int free = -1;
    for (int i = 0; i < g_.slots; ++i) {
      const int tag = tag_of(i);
      if (tag == key) return slot(i);
      bool kept = false;  // an empty slot (-1) is never kept
      for (int j = 0; j < g_.slots; ++j) kept = kept || (tag >= 0 && keep[j] == tag);
      if (!kept && free < 0) free = i;
    }
    set_tag(free, key);
    stage_row(s_, g_, src, slot(free));
    return slot(free);
  }

 private:
  float16_t* slot(int i) const { return base_ + size_t(i) * g_.row_stride_halves(); }
  int tag_of(int i) const {
    int32_t t;
    std::memcpy(&t, tags_ + i, 4);
    return t;
  }
  void set_tag(int i, int32_t t) { std::memcpy(tags_ + i, &t, 4); }
  const DwconvShape& s_;
  const DwconvHalfRows& g_;
  float16_t* base_;
  float* tags_;
};

// The epilogue's clamp, in one of three forms chosen per call, each compiled into the group
// kernels (runtime tests of which bounds apply cost a branch per bound per pixel, 4 with two
// forms, 15% of the 3x3 loop's instructions):
//  kNone: no bound applies;
//  kHalf: both bounds are binary16 values (ReLU's 0 and +inf, ReLU6's 0 and 6, ...): max and
//         min on the fp16 accumulator before widening, 2 instructions per 8 outputs (fp32: 4),
//         the same bits as clamping the widened value; an absent bound is +-inf, and max/min
//         with it return every value, NaN included, unchanged;
//  kWide: any other: fp32's VecClamp after widening.
enum class ClampForm { kNone, kHalf, kWide };

struct HalfClamp {
  ClampForm form;
  float16x8_t lo16, hi16;
  VecClamp<VecNeon> wide;
  explicit HalfClamp(const Epilogue& ep)
      : form(!ep.clamps() ? ClampForm::kNone
             : float(float16_t(ep.min)) == ep.min && float(float16_t(ep.max)) == ep.max ? ClampForm::kHalf
                                                                                         : ClampForm::kWide),
        lo16(vdupq_n_f16(float16_t(ep.min))), hi16(vdupq_n_f16(float16_t(ep.max))), wide(ep) {}
};

// What every group of one call shares.
struct HalfLayer {
  const DwconvShape& s;
  const DwconvHalfRows& g;
  const float16_t* w;  // packed chunks: [8 bias][taps x 8 weights] halves
  HalfClamp clamp;
  size_t chunk_halves;
};

// Clamped (form K), widened to fp32, stored: all 8 lanes, or (kFull false) the `valid` that exist.
template <ClampForm K, bool kFull>
__attribute__((always_inline)) inline void store_chunk(float* d, float16x8_t acc, int valid, const HalfClamp& clamp) {
  if (K == ClampForm::kHalf) acc = vminq_f16(vmaxq_f16(acc, clamp.lo16), clamp.hi16);
  float32x4_t lo = vcvt_f32_f16(vget_low_f16(acc)), hi = vcvt_high_f32_f16(acc);
  if (K == ClampForm::kWide) lo = clamp.wide(lo), hi = clamp.wide(hi);
  if (kFull) {
    vst1q_f32(d, lo);
    vst1q_f32(d + 4, hi);
  } else {
    float lanes[L];
    vst1q_f32(lanes, lo);
    vst1q_f32(lanes + 4, hi);
    for (int i = 0; i < valid; ++i) d[i] = lanes[i];
  }
}

// One chunk of 8 channels of P output pixels of a 3x3, stride S, dilation 1 window: window
// row ky reads the staged row q[ky] (null: a padding row) at column offsets off[j], j < (P-1)S+3,
// each input vector loaded once and shared by the taps and pixels using it; P independent
// accumulators (a 9-FMA chain would wait on the FMA latency). As in dwconv_neon.cpp: every
// loop unrolled so inputs and accumulators stay in registers, and each accumulator starts
// from its own bias load (an opaque copy of the pointer keeps GCC from merging them: FMLA
// overwrites its accumulator, so a shared bias register would cost a move per pixel).
template <ClampForm K, int S, int P, bool kFull>
__attribute__((always_inline)) inline void chunk_3x3(const float16_t* wchunk, const float16_t* const q[3],
                                                     const std::ptrdiff_t (&off)[(P - 1) * S + 3], int c, float* dst,
                                                     std::ptrdiff_t out_c, int count, const HalfClamp& clamp) {
  constexpr int kInputs = (P - 1) * S + 3;
  float16x8_t acc[P];
  _Pragma("GCC unroll 8") for (int px = 0; px < P; ++px) {
    const float16_t* b = wchunk;
    __asm__ volatile("" : "+r"(b));
    acc[px] = vld1q_f16(b);
  }
  _Pragma("GCC unroll 3") for (int ky = 0; ky < 3; ++ky) {
    if (!q[ky]) continue;
    const float16_t* base = q[ky] + L * c;
    float16x8_t x[kInputs];
    _Pragma("GCC unroll 17") for (int j = 0; j < kInputs; ++j) x[j] = vld1q_f16(base + off[j]);
    _Pragma("GCC unroll 3") for (int kx = 0; kx < 3; ++kx) {
      const float16x8_t wk = vld1q_f16(wchunk + L + (3 * ky + kx) * L);
      _Pragma("GCC unroll 8") for (int px = 0; px < P; ++px) acc[px] = vfmaq_f16(acc[px], x[kx + px * S], wk);
    }
    _Pragma("GCC unroll 8") for (int px = 0; px < P; ++px) __asm__("" : "+w"(acc[px]));
  }
  const int valid = int(out_c % L);
  float* d = dst;
  _Pragma("GCC unroll 8") for (int px = 0; px < P; ++px, d += out_c)
    if (px < count) store_chunk<K, kFull>(d, acc[px], valid, clamp);
}

// P output pixels from ox (the first `count` stored at out, out + out_c, ...), every chunk.
// The shape's fields and the clamp are copied to locals: read through the layer, GCC reloaded
// them after every store (the output could alias them). Without GCC's scheduling before
// register allocation, as dwconv_neon.cpp's group (it made the allocator copy accumulators).
template <ClampForm K, int S, int P>
ATTOCORE_NO_PRESCHEDULE void group_3x3(const HalfLayer& l, const float16_t* const rows[3], int ox, float* out, int count) {
  constexpr int kInputs = (P - 1) * S + 3;
  const HalfClamp clamp = l.clamp;
  const std::ptrdiff_t out_c = l.s.out_c, channels = l.g.channels;
  std::ptrdiff_t off[kInputs];
  _Pragma("GCC unroll 17") for (int j = 0; j < kInputs; ++j) off[j] = j * channels;
  const float16_t* q[3];
  _Pragma("GCC unroll 3") for (int ky = 0; ky < 3; ++ky) q[ky] = rows[ky] ? rows[ky] + std::ptrdiff_t(ox) * S * channels : nullptr;
  const int full = int(out_c / L), chunks = int(channels / L);
  const size_t step = l.chunk_halves;
  const float16_t* wchunk = l.w;
  int c = 0;
  for (; c < full; ++c, wchunk += step) chunk_3x3<K, S, P, true>(wchunk, q, off, c, out + c * L, out_c, count, clamp);
  if (c < chunks) chunk_3x3<K, S, P, false>(wchunk, q, off, c, out + c * L, out_c, count, clamp);
}

// One output row of a 3x3, stride S window: groups of 7 when the row is 7k pixels wide
// (every row a 224 input leads to: no pixel computed twice), else groups of 8 with the last
// one computing past the row's end (the stage has those columns) and storing only its own.
template <ClampForm K, int S>
void row_3x3(const HalfLayer& l, const float16_t* const rows[3], float* out_row) {
  const int w = l.s.out_w;
  auto at = [&](int ox) { return out_row + size_t(ox) * l.s.out_c; };
  if (w % 7 == 0) {
    for (int ox = 0; ox < w; ox += 7) group_3x3<K, S, 7>(l, rows, ox, at(ox), 7);
    return;
  }
  int ox = 0;
  for (; ox + 8 <= w; ox += 8) group_3x3<K, S, 8>(l, rows, ox, at(ox), 8);
  if (ox < w) group_3x3<K, S, 8>(l, rows, ox, at(ox), w - ox);
}

// One output row of any other window: 8 pixels at a time per chunk, one accumulator each,
// each tap's weights loaded once for the 8 (the last group computes past the row's end). The
// clamp in fp32 (kWide, right for any bounds): one form for these rarer windows.
void row_generic(const HalfLayer& l, const float16_t* const* rows, float* out_row) {
  const DwconvShape& s = l.s;
  const WindowAttrs& w = s.window;
  constexpr int P = DwconvHalfRows::kGroupPixels;
  const std::ptrdiff_t ch = l.g.channels, pixel_step = std::ptrdiff_t(w.stride_w) * ch,
                       tap_step = std::ptrdiff_t(w.dilation_w) * ch;
  const int chunks = l.g.channels / L, valid = s.out_c % L;
  const HalfClamp clamp = l.clamp;  // a local: the stores could alias the layer's copy
  for (int ox = 0; ox < s.out_w; ox += P) {
    const int count = s.out_w - ox < P ? s.out_w - ox : P;
    for (int c = 0; c < chunks; ++c) {
      const float16_t* wchunk = l.w + size_t(c) * l.chunk_halves;
      float16x8_t acc[P];
      const float16x8_t bias = vld1q_f16(wchunk);
      _Pragma("GCC unroll 8") for (int p = 0; p < P; ++p) acc[p] = bias;
      for (int ky = 0; ky < w.kernel_h; ++ky) {
        if (!rows[ky]) continue;
        const float16_t* q = rows[ky] + ox * pixel_step + c * L;
        for (int kx = 0; kx < w.kernel_w; ++kx, q += tap_step) {
          const float16x8_t wt = vld1q_f16(wchunk + L + size_t(ky * w.kernel_w + kx) * L);
          _Pragma("GCC unroll 8") for (int p = 0; p < P; ++p) acc[p] = vfmaq_f16(acc[p], vld1q_f16(q + p * pixel_step), wt);
        }
      }
      float* d = out_row + size_t(ox) * s.out_c + c * L;
      const bool full = c * L + L <= s.out_c;
      for (int p = 0; p < count; ++p, d += s.out_c) {
        if (full) {
          store_chunk<ClampForm::kWide, true>(d, acc[p], L, clamp);
        } else {
          store_chunk<ClampForm::kWide, false>(d, acc[p], valid, clamp);
        }
      }
    }
  }
}

// row_3x3 for stride 1 or 2 and the call's clamp form.
void row_3x3_for(const HalfLayer& l, int stride, const float16_t* const rows[3], float* out_row) {
  switch (l.clamp.form) {
    case ClampForm::kNone: return stride == 1 ? row_3x3<ClampForm::kNone, 1>(l, rows, out_row)
                                              : row_3x3<ClampForm::kNone, 2>(l, rows, out_row);
    case ClampForm::kHalf: return stride == 1 ? row_3x3<ClampForm::kHalf, 1>(l, rows, out_row)
                                              : row_3x3<ClampForm::kHalf, 2>(l, rows, out_row);
    case ClampForm::kWide: return stride == 1 ? row_3x3<ClampForm::kWide, 1>(l, rows, out_row)
                                              : row_3x3<ClampForm::kWide, 2>(l, rows, out_row);
  }
}

}  // namespace

void dwconv_neonfp16(const DwconvArgs& a) {
  const DwconvShape& s = *a.shape;
  const WindowAttrs& w = s.window;
  const DwconvHalfRows g(s);
  const HalfLayer l{s, g, reinterpret_cast<const float16_t*>(a.weights->half.data()), HalfClamp(a.ep),
                a.weights->chunk_floats()};
  const bool fast3x3 = w.kernel_h == 3 && w.kernel_w == 3 && w.dilation_h == 1 && w.dilation_w == 1 &&
                       w.stride_h == w.stride_w && (w.stride_w == 1 || w.stride_w == 2);
  StagedRows staged(s, g, a.scratch, a.continues);
  WindowRowsArray<int> keys(w.kernel_h);
  WindowRowsArray<const float16_t*> rows(w.kernel_h);
  for (int row = a.row_begin; row < a.row_end; ++row) {
    const int n = row / s.out_h, oy = row % s.out_h;
    const float* image = a.input + size_t(n) * s.in_h * s.in_w * s.in_c;
    float* out_row = a.output + size_t(row - a.output_row0) * s.out_w * s.out_c;
    for (int ky = 0; ky < w.kernel_h; ++ky) {
      const int iy = oy * w.stride_h - w.pad_top + ky * w.dilation_h;
      keys.v[ky] = iy >= 0 && iy < s.in_h ? n * s.in_h + iy : -1;
    }
    for (int ky = 0; ky < w.kernel_h; ++ky) {
      const int iy = oy * w.stride_h - w.pad_top + ky * w.dilation_h;
      rows.v[ky] = keys.v[ky] < 0 ? nullptr : staged.row(keys.v[ky], image + size_t(iy) * s.in_w * s.in_c, keys.v);
    }
    if (!fast3x3) {
      row_generic(l, rows.v, out_row);
    } else {
      row_3x3_for(l, w.stride_w, rows.v, out_row);
    }
  }
}

}  // namespace attocore
