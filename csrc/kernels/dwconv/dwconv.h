// Depthwise convolution with channel multiplier (groups = input channels, each input
// channel c feeding outputs c*k .. c*k+k-1), NHWC, any kernel size, stride and padding.
// Weights are packed per chunk of CW output channels: [CW bias][taps x CW weights], zero
// padded, as floats or (the fp16 kernel, DwconvWeights::kHalf) as IEEE binary16; chunk p
// also records the first input channel it reads (p*CW / k).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "graph/graph.h"  // WindowAttrs
#include "kernels/epilogue.h"
#include "util/aligned_vector.h"

namespace attocore {

struct DwconvShape {
  int batch = 1;
  int in_h = 0, in_w = 0, in_c = 0;
  int out_h = 0, out_w = 0, out_c = 0;  // out_c = in_c * multiplier
  int multiplier = 1;
  WindowAttrs window;  // groups == in_c
};

// How a kernel wants its weights packed: floats, or binary16 bits (bias included).
enum class DwconvWeights { kFloat, kHalf };

struct PackedDwconv {
  int cw = 0;      // chunk width (vector lanes)
  int taps = 0;
  int chunks = 0;
  DwconvWeights format = DwconvWeights::kFloat;
  // chunks x (cw + taps * cw) values, on cache lines (vector loads of weights): in `data`
  // (kFloat) or `half` (kHalf, binary16 bits rounded to nearest even); the other is empty.
  AlignedVector<float> data;
  AlignedVector<uint16_t> half;
  // Where each chunk reads: its first input channel, and per lane the input channel
  // relative to that one (lane-permute indices for vector variants).
  std::vector<int32_t> first_input;   // chunks
  std::vector<int32_t> lane_input;    // chunks x cw
  size_t chunk_floats() const { return size_t(cw) * (taps + 1); }  // values per chunk, either format
};

PackedDwconv pack_dwconv(const DwconvShape& s, int cw, const float* oihw, const float* bias,
                         DwconvWeights format = DwconvWeights::kFloat);

struct DwconvArgs {
  const DwconvShape* shape;
  const PackedDwconv* weights;
  const float* input;
  float* output;
  Epilogue ep;
  int row_begin, row_end;  // rows index batch * out_h
  float* scratch;          // dwconv_scratch_floats(*shape, kernel) floats of the calling thread's own
  // The row `output` starts at: 0 for a whole tensor; row_begin when a caller keeps only a
  // band of rows (the fused module step, dw_pwpw.h).
  int output_row0 = 0;
  // Whether the call before this one on `scratch` ran the same layer on the same input, and
  // nothing has written the scratch since (DwconvBands::run's bands after its first): the
  // fp16 kernel then reuses the window rows that call staged (dwconv_half_rows.h) instead of
  // staging them again. A wrong claim gives stale rows, never a write outside the scratch:
  // row tags that are not distinct are cleared.
  bool continues = false;
};

// Variants may read up to kDwconvInputSlack floats past the end of the input tensor
// (vector loads of a chunk's few input channels); callers provide that slack.
constexpr int kDwconvInputSlack = 16;

constexpr int kDwconvEdgeMaxColumns = 9;  // 3S+3 with S <= 2

struct DwconvKernel;
// Scratch a kernel may use per calling thread: the fp32 vector variants' edge staging
// (dwconv_edge.h: 3 window rows of up to 3S+3 columns, plus load slack; the reference uses
// none), the fp16 kernel's window rows converted to binary16 (dwconv_half_rows.h), which
// depend on the window and the row width, not on in_h or the batch (DwconvBands::run_rows
// shortens in_h).
size_t dwconv_scratch_floats(const DwconvShape& s, const DwconvKernel& kernel);

// The taps of output pixel (oy, ox)'s window that fall inside the image, in the order every
// variant sums them (window row, then column): tap(iy, ix, t), t = ky * kernel_w + kx the
// tap's index in the packed weights.
template <typename Tap>
inline void for_each_window_tap(const DwconvShape& s, int oy, int ox, const Tap& tap) {
  const WindowAttrs& w = s.window;
  for (int ky = 0; ky < w.kernel_h; ++ky) {
    const int iy = oy * w.stride_h - w.pad_top + ky * w.dilation_h;
    if (iy < 0 || iy >= s.in_h) continue;
    for (int kx = 0; kx < w.kernel_w; ++kx) {
      const int ix = ox * w.stride_w - w.pad_left + kx * w.dilation_w;
      if (ix < 0 || ix >= s.in_w) continue;
      tap(iy, ix, ky * w.kernel_w + kx);
    }
  }
}

using DwconvFunction = void(const DwconvArgs& a);
using DwconvFn = DwconvFunction*;

struct DwconvKernel {
  DwconvFn fn = nullptr;
  int cw = 0;
  const char* name = "";
  DwconvWeights weights = DwconvWeights::kFloat;  // pack_dwconv's format for it
};

// Packed for kernel k (its chunk width and weight format).
inline PackedDwconv pack_dwconv(const DwconvShape& s, const DwconvKernel& k, const float* oihw, const float* bias) {
  return pack_dwconv(s, k.cw, oihw, bias, k.weights);
}

// Every variant, from their list (dwconv_kernels.inc).
#define DWCONV_KERNEL(table, fn, cw, weights) DwconvFunction fn;
#include "kernels/dwconv/dwconv_kernels.inc"
#undef DWCONV_KERNEL

}  // namespace attocore
