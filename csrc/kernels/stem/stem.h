// The network's first convolution read straight from the caller's NCHW image (no layout
// pass), written NHWC: vectorised over 8 output pixels of a row, 8 output channels at a
// time. The image is first copied into a zero-padded buffer so the inner loops never test
// bounds. Dense (groups = 1), any kernel size, stride 1 or 2, dilation 1.
#pragma once
#include <cstddef>
#include <vector>

#include "graph/graph.h"

namespace attocore {

struct StemShape {
  int in_c = 0, in_h = 0, in_w = 0;
  int out_c = 0, out_h = 0, out_w = 0;
  WindowAttrs window;
  // Padded copy geometry: rows of padded_w floats, in_h + pad_top + pad_bottom + 1 rows.
  // With stride 2 each row is stored split, even columns then odd ones (half_w each), so a
  // vector of 8 output pixels reads 8 contiguous floats for any tap.
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
// Rows [row_begin, row_end) of the padded copy (row r: channel r / padded_h, padded row
// r % padded_h), so threads can share the copy; all in_c * padded_h rows make the image.
void stem_pad_rows(const StemShape& s, const float* image_nchw, float* padded, int row_begin, int row_end);

struct StemArgs {
  const StemShape* shape;
  const PackedStem* weights;
  const float* padded;  // one image, from stem_pad_rows
  float* output;        // that image's NHWC output
  Activation act;
  int row_begin, row_end;  // output rows of this image
};

using StemFn = void (*)(const StemArgs& a);

struct StemKernel {
  StemFn fn = nullptr;  // null: no variant (the first convolution takes the im2col + GEMM path)
  const char* name = "";
};

void stem_ref(const StemArgs& a);

}  // namespace attocore
