// Portable reference convolution, NHWC activations: any kernel size, stride, padding,
// dilation and groups (channel multipliers included). The oracle for every fast variant.
#pragma once
#include <cstddef>

#include "graph/graph.h"

namespace attocore {

struct Conv2dShape {
  int batch = 1;
  int in_h = 0, in_w = 0, in_c = 0;
  int out_h = 0, out_w = 0, out_c = 0;
  WindowAttrs window;
};

// Packed weight layout: [group][ky][kx][cin_per_group][cout_per_group], so the innermost
// loop runs over output channels of one group (contiguous in NHWC output).
size_t conv2d_ref_packed_size(const Conv2dShape& s);
void conv2d_ref_pack(const Conv2dShape& s, const float* oihw, float* packed);

// Computes output rows [row_begin, row_end) of every image (rows index batch*out_h).
void conv2d_ref(const Conv2dShape& s, const float* input, const float* packed, const float* bias,
                Activation act, float* output, int row_begin, int row_end);

}  // namespace attocore
