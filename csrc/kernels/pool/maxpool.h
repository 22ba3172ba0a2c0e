// Max pooling, NHWC, any window, stride and padding below the window (graph validation:
// so no window is empty); padded positions never win (as in PyTorch and ONNX). rows index batch * out_h. Vector variants take 8 (AVX2) or 4 (NEON)
// channels of a pixel per vector, a masked or partial vector for the rest.
#pragma once
#include "graph/graph.h"  // WindowAttrs
#include "kernels/epilogue.h"

namespace attocore {

using MaxPoolFunction = void(int in_h, int in_w, int channels, int out_h, int out_w, const WindowAttrs& w,
                             const float* input, Epilogue ep, float* output, int row_begin, int row_end);
using MaxPoolFn = MaxPoolFunction*;

struct MaxPoolKernel {
  MaxPoolFn fn = nullptr;
  const char* name = "";
};

// Every variant, from their list (maxpool_kernels.inc).
#define MAXPOOL_KERNEL(table, fn) MaxPoolFunction fn;
#include "kernels/pool/maxpool_kernels.inc"
#undef MAXPOOL_KERNEL

// The walk the vector variants share: for each output pixel of rows [row_begin, row_end),
// its window clipped to the image (rows [y0, y1), columns [x0, x1); padded positions never
// win), handed to pool_pixel(image, y0, y1, x0, x1, out) with image the pixel's NHWC image.
// T: float, or int8_t for the int8 max pool (qmaxpool/qmaxpool.h).
template <typename T, typename PoolPixel>
void maxpool_walk(int in_h, int in_w, int channels, int out_h, int out_w, const WindowAttrs& w, const T* input,
                  T* output, int row_begin, int row_end, PoolPixel pool_pixel) {
  const size_t pixel = size_t(channels);
  for (int row = row_begin; row < row_end; ++row) {
    const int n = row / out_h, oy = row % out_h;
    const T* image = input + size_t(n) * in_h * in_w * pixel;
    const int y0 = oy * w.stride_h - w.pad_top > 0 ? oy * w.stride_h - w.pad_top : 0;
    const int y1 = oy * w.stride_h - w.pad_top + w.kernel_h < in_h ? oy * w.stride_h - w.pad_top + w.kernel_h : in_h;
    T* out = output + (size_t(n) * out_h + oy) * out_w * pixel;
    for (int ox = 0; ox < out_w; ++ox, out += pixel) {
      const int x0 = ox * w.stride_w - w.pad_left > 0 ? ox * w.stride_w - w.pad_left : 0;
      const int x1 = ox * w.stride_w - w.pad_left + w.kernel_w < in_w ? ox * w.stride_w - w.pad_left + w.kernel_w : in_w;
      pool_pixel(image, y0, y1, x0, x1, out);
    }
  }
}

}  // namespace attocore
