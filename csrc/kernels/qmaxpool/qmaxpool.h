// Int8 max pooling, NHWC, any window, stride and padding below the window: the max of the
// window's codes inside the image (padded positions never win), clamped to the output's
// activation range [lo, hi]. The codes themselves are compared: input and output share
// their scale and zero point (format/validate.cpp), and dequantization is monotone. Every
// variant gives the reference's bytes (tests/cpp/test_qmaxpool_kernels.cpp).
#pragma once
#include <cstddef>
#include <cstdint>

#include "graph/graph.h"            // WindowAttrs
#include "kernels/qgemm/qgemm.h"    // CpuNeed

namespace attocore {

struct QMaxPoolArgs {
  int in_h = 0, in_w = 0, channels = 0, out_h = 0, out_w = 0;
  const WindowAttrs* window = nullptr;
  const int8_t* input = nullptr;  // batch x in_h x in_w x channels
  int8_t* output = nullptr;       // batch x out_h x out_w x channels
  int8_t lo = -128, hi = 127;     // the activation's clamp, in codes
  int row_begin = 0, row_end = 0;  // rows index batch * out_h
  void* scratch = nullptr;         // qmaxpool_scratch_bytes() of the calling thread's own
};

// Scratch a variant may use per calling thread: two rows of the padded input width
// (qmaxpool_rows.h: the window's vertical max, then its horizontal max).
inline size_t qmaxpool_scratch_bytes(int in_w, int channels, const WindowAttrs& w) {
  return 2 * (size_t(in_w + w.pad_left + w.pad_right) * size_t(channels) + 64);
}

using QMaxPoolFunction = void(const QMaxPoolArgs&);

using QMaxPoolKernel = QKernelOf<QMaxPoolFunction>;

#define QMAXPOOL_KERNEL(table, fn, need) QMaxPoolFunction fn;
#include "kernels/qmaxpool/qmaxpool_kernels.inc"
#undef QMAXPOOL_KERNEL

}  // namespace attocore
