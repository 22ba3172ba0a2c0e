#pragma once
#include "kernels/pool/maxpool.h"

namespace attocore {

void maxpool2d_neon(int in_h, int in_w, int channels, int out_h, int out_w, const WindowAttrs& w, const float* input,
                    Activation act, float* output, int row_begin, int row_end);

}  // namespace attocore
