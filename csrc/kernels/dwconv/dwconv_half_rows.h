// The fp16 depthwise kernel's staging (dwconv_neonfp16.cpp): the window rows it reads,
// converted to binary16 once per call (or per fused step's run: DwconvArgs::continues) and
// kept in the calling thread's scratch while the output rows that read them run. Each staged row is the image row in output-channel order
// (input channel oc / multiplier at channel oc: the multiplier is applied here, so the inner
// loop is the multiplier-1 loop for every multiplier), its channels rounded up to whole
// chunks of 8, with pad_left zero columns before the image and zero columns after it up to
// what the widest group of pixels reads: a group never tests for padding columns or a
// partial chunk, and reads only the stage. Portable (no fp16 types): the scratch sizing
// (dwconv_scratch_floats) is compiled on every target.
#pragma once
#include <algorithm>
#include <cstddef>

#include "kernels/dwconv/dwconv.h"

namespace attocore {

struct DwconvHalfRows {
  static constexpr int kLanes = 8;        // output channels per float16x8_t chunk
  static constexpr int kGroupPixels = 8;  // the most output pixels one group computes
  int channels = 0;  // per staged column: out_c rounded up to a multiple of kLanes
  int columns = 0;   // per staged row: pad_left zeros, in_w image columns, zeros
  int slots = 0;     // rows kept: kernel_h (an output row reads kernel_h input rows)

  explicit DwconvHalfRows(const DwconvShape& s) {
    const WindowAttrs& w = s.window;
    channels = (s.out_c + kLanes - 1) / kLanes * kLanes;
    // Output pixels rounded up to whole groups: the last group may compute (not store) a few
    // pixels past the row, and reads their columns.
    const int pixels = (s.out_w + kGroupPixels - 1) / kGroupPixels * kGroupPixels;
    const int read = (pixels - 1) * w.stride_w + (w.kernel_w - 1) * w.dilation_w + 1;
    columns = std::max(w.pad_left + s.in_w, read);
    slots = w.kernel_h;
  }
  size_t row_halves() const { return size_t(columns) * size_t(channels); }
  size_t row_stride_halves() const { return (row_halves() + 31) / 32 * 32; }  // rows on 64-byte boundaries
  // Scratch floats: the slots' rows (2 halves per float), then one tag per slot (the image
  // row it holds, an int32 in a float's bytes: kept for a call that continues this one).
  size_t tags_offset_floats() const { return size_t(slots) * (row_stride_halves() / 2); }
  size_t scratch_floats() const { return tags_offset_floats() + size_t(slots); }
};

}  // namespace attocore
