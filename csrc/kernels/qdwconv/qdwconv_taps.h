// The window of one output pixel as the x86 int8 depthwise variants read it: a pointer per
// tap (ky * kernel_w + kx) to the pixel's in_c bytes. A tap outside the image points at a
// row of the input zero point instead, which contributes (zp - zp) * w = 0 once the pack has
// folded -zp * sum_t w[o][t] into the bias, so every pixel runs the same branch-free tap
// loop. The vector loads read up to kQDwconvReadSlack bytes past a pixel's in_c channels
// (never used: those lanes have zero weights or are not stored), so a pixel that close to
// the end of the input is read from a staged copy, and nothing past the tensor is read.
// Scalar code with internal linkage: each ISA object gets its own copy (no weak symbols).
#pragma once
#include <cstdint>
#include <cstring>

#include "kernels/qdwconv/qdwconv.h"

namespace attocore {
namespace {

constexpr int kQDwconvReadSlack = 16;

struct QDwconvWindow {
  const DwconvShape& s;
  int taps;
  const int8_t* end;        // one past the input tensor
  const int8_t** src;       // taps pointers
  const int8_t* zp_row;     // in_c + 32 bytes of the zero point
  int8_t* stage;            // taps x (in_c + 32)

  // Carves the scratch (qdwconv_scratch_bytes) and fills the zero-point row.
  QDwconvWindow(const QDwconvArgs& a)
      : s(*a.shape), taps(a.shape->window.kernel_h * a.shape->window.kernel_w) {
    const size_t total = size_t(s.batch) * s.in_h * s.in_w * s.in_c;
    end = a.input + total;
    uintptr_t p = (reinterpret_cast<uintptr_t>(a.scratch) + 7) & ~uintptr_t(7);
    src = reinterpret_cast<const int8_t**>(p);
    int8_t* row = reinterpret_cast<int8_t*>(p + 8 * size_t(taps));
    std::memset(row, int8_t(a.weights->x_zero_point), size_t(s.in_c) + 32);
    zp_row = row;
    stage = row + s.in_c + 32;
  }

  // The taps of output pixel (oy, ox) of `image` (one batch element).
  void fill(const int8_t* image, int oy, int ox) {
    const WindowAttrs& w = s.window;
    const size_t row_bytes = size_t(s.in_w) * s.in_c;
    for (int ky = 0; ky < w.kernel_h; ++ky) {
      const int iy = oy * w.stride_h - w.pad_top + ky * w.dilation_h;
      const bool row_in = iy >= 0 && iy < s.in_h;
      for (int kx = 0; kx < w.kernel_w; ++kx) {
        const int t = ky * w.kernel_w + kx;
        const int ix = ox * w.stride_w - w.pad_left + kx * w.dilation_w;
        if (!row_in || ix < 0 || ix >= s.in_w) {
          src[t] = zp_row;
          continue;
        }
        const int8_t* p = image + size_t(iy) * row_bytes + size_t(ix) * s.in_c;
        if (end - p < s.in_c + kQDwconvReadSlack) {  // the last pixels of the tensor: a copy
          int8_t* copy = stage + size_t(t) * (s.in_c + 32);
          std::memcpy(copy, p, size_t(s.in_c));
          std::memset(copy + s.in_c, 0, 32);
          p = copy;
        }
        src[t] = p;
      }
    }
  }
};

}  // namespace
}  // namespace attocore
