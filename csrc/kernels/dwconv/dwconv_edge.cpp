#include "kernels/dwconv/dwconv_edge.h"

#include <algorithm>
#include <cstddef>

namespace attocore {

void stage_dwconv_edge(const DwconvShape& s, const float* const rows[3], int ix0, int columns,
                       DwconvEdgeStage& stage) {
  const size_t pixel = size_t(s.in_c), row_floats = size_t(columns) * pixel;
  // Zero slack after the last staged row: the vector loads of its last pixel may reach it.
  for (int i = 0; i < kDwconvInputSlack; ++i) stage.buf[3 * row_floats + i] = 0.f;
  // Columns [lo, hi) of the stage exist in the image: one copy, zeros either side.
  const int lo = std::min(columns, std::max(0, -ix0));
  const int hi = std::max(lo, std::min(columns, s.in_w - ix0));
  for (int ky = 0; ky < 3; ++ky) {
    stage.rows[ky] = nullptr;
    if (!rows[ky]) continue;
    float* dst = stage.buf + ky * row_floats;
    const float* src = rows[ky] + std::ptrdiff_t(ix0) * std::ptrdiff_t(pixel);
    // Plain loops, not memcpy/memset: a few hundred floats per call, where the library
    // calls' fixed cost showed on the 14x14 layers.
    for (size_t i = 0; i < size_t(lo) * pixel; ++i) dst[i] = 0.f;
    for (size_t i = size_t(lo) * pixel; i < size_t(hi) * pixel; ++i) dst[i] = src[i];
    for (size_t i = size_t(hi) * pixel; i < row_floats; ++i) dst[i] = 0.f;
    stage.rows[ky] = dst;
  }
}

}  // namespace attocore
