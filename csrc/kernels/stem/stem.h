// The network's first convolution read straight from the caller's NCHW image (no layout
// pass), written NHWC: vectorised over the output pixels of a row (8 per vector on AVX2, 16
// on AVX-512, 4 on NEON), a block of output channels at a time (stem_kernels.inc). The image
// is first copied into a zero-padded buffer so the inner loops never test bounds. Dense
// (groups = 1), any kernel size, stride 1 or 2, dilation 1.
#pragma once
#include <cstddef>
#include <vector>

#include "graph/graph.h"  // WindowAttrs
#include "kernels/epilogue.h"

namespace attocore {

struct StemShape {
  int in_c = 0, in_h = 0, in_w = 0;
  int out_c = 0, out_h = 0, out_w = 0;
  WindowAttrs window;
  // Padded copy geometry: rows of padded_w floats, in_h + pad_top + pad_bottom + 1 rows.
  // With stride 2 each row is stored split, even columns then odd ones (half_w each), so a
  // vector of output pixels reads contiguous floats for any tap.
  int padded_h = 0, padded_w = 0;
  bool split = false;
  int half_w = 0;
};

// Where padded column x sits in a padded row, whatever the layout.
inline int stem_column_index(const StemShape& s, int x) { return s.split ? (x & 1) * s.half_w + (x >> 1) : x; }
inline const float* stem_column(const StemShape& s, const float* row, int x) { return row + stem_column_index(s, x); }

StemShape make_stem_shape(int in_c, int in_h, int in_w, int out_c, int out_h, int out_w, const WindowAttrs& w);

// Weights as [out_c][in_c][kh][kw] (the file's OIHW) plus bias, padded to blocks of 8 outputs.
struct PackedStem {
  int blocks = 0;
  std::vector<float> weights;  // blocks x in_c x kh x kw x 8
  std::vector<float> bias;     // blocks x 8
  // Where tap t (channel, ky, kx) of output pixel 0 of a row reads, relative to that row's
  // first padded row (split layout included): vector variants run one flat tap loop.
  std::vector<int> tap_offsets;
};

PackedStem pack_stem(const StemShape& s, const float* oihw, const float* bias);

size_t stem_padded_floats(const StemShape& s);  // one image's padded copy
// Scratch stem_pad_rows needs per calling thread: one plain padded row for the split layout.
inline size_t stem_pad_scratch_floats(const StemShape& s) { return s.split ? size_t(s.padded_w) : 0; }
// Rows [row_begin, row_end) of the padded copy (row r: channel r / padded_h, padded row
// r % padded_h), so threads can share the copy; all in_c * padded_h rows make the image.
// row_scratch: stem_pad_scratch_floats(s) floats of the calling thread's own.
void stem_pad_rows(const StemShape& s, const float* image_nchw, float* padded, int row_begin, int row_end,
                   float* row_scratch);

struct StemArgs {
  const StemShape* shape;
  const PackedStem* weights;
  const float* padded;  // one image, from stem_pad_rows
  float* output;        // that image's NHWC output
  Epilogue ep;
  int row_begin, row_end;  // output rows of this image
};

using StemFunction = void(const StemArgs& a);
using StemFn = StemFunction*;

struct StemKernel {
  StemFn fn = nullptr;  // null: no variant (the first convolution takes the im2col + GEMM path)
  const char* name = "";
};

// Every variant, from their list (stem_kernels.inc).
#define STEM_KERNEL(table, fn) StemFunction fn;
#include "kernels/stem/stem_kernels.inc"
#undef STEM_KERNEL

// Where the vector variants' block of output channels oc0.. and pixels ox0.. of output row
// oy reads: its weights (packed [block of 8][tap][8]; lanes from oc0 % 8), biases and first
// padded input. Output pixel ox reads padded column ox * stride + kx: with stride 2 and
// split rows that is index ox + kx / 2 in the kx-parity half, so both strides step one
// float per output pixel from `input` (plus the tap's offset).
struct StemBlockOrigin {
  const float* weights;
  const float* bias;
  const float* input;
};
inline StemBlockOrigin stem_block_origin(const StemArgs& a, int taps, int oy, int ox0, int oc0) {
  return {a.weights->weights.data() + size_t(oc0 / 8) * taps * 8 + oc0 % 8, a.weights->bias.data() + oc0,
          a.padded + size_t(oy) * a.shape->window.stride_h * a.shape->padded_w + ox0};
}

// The walk the vector variants share: every output row of a.row_begin .. a.row_end, in
// blocks of up to 4 output channels, each block handed to Channels::run<kOuts>(a, offsets,
// taps, oy, oc0) with its channel count as a compile-time constant (instantiated in each
// ISA's own file, with its flags).
template <typename Channels>
void stem_walk(const StemArgs& a) {
  const std::vector<int>& offsets = a.weights->tap_offsets;
  const int taps = int(offsets.size()), out_c = a.shape->out_c;
  for (int oy = a.row_begin; oy < a.row_end; ++oy)
    for (int oc0 = 0; oc0 < out_c; oc0 += 4) {
      switch (out_c - oc0 < 4 ? out_c - oc0 : 4) {
        case 1: Channels::template run<1>(a, offsets.data(), taps, oy, oc0); break;
        case 2: Channels::template run<2>(a, offsets.data(), taps, oy, oc0); break;
        case 3: Channels::template run<3>(a, offsets.data(), taps, oy, oc0); break;
        default: Channels::template run<4>(a, offsets.data(), taps, oy, oc0); break;
      }
    }
}

}  // namespace attocore
