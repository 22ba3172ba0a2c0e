// Reference pooling kernels, NHWC.
#pragma once
#include "graph/graph.h"  // WindowAttrs
#include "kernels/epilogue.h"
#include "kernels/pool/maxpool.h"

namespace attocore {

// The max pool reference, maxpool2d_ref, is declared in maxpool.h with the other variants.

// Average pool; the divisor counts padded positions only with w.count_include_pad.
void avgpool2d_ref(int in_h, int in_w, int channels, int out_h, int out_w, const WindowAttrs& w,
                   const float* input, Epilogue ep, float* output, int row_begin, int row_end);

// Global average pool: [N, H, W, C] -> [N, C].
void global_avgpool_ref(int batch, int hw, int channels, const float* input, Epilogue ep, float* output);

}  // namespace attocore
