// Layout conversion at the graph's edges only: the executor runs NHWC inside.
#pragma once

namespace attocore {

void nchw_to_nhwc(int n, int c, int h, int w, const float* src, float* dst);
void nhwc_to_nchw(int n, int c, int h, int w, const float* src, float* dst);

}  // namespace attocore
