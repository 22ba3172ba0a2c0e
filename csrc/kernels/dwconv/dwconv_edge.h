// Edge staging for the vector depthwise 3x3 kernels: the fallback for output pixels that
// their edge groups do not fit (padding other than 1, rows of 4 pixels or fewer). Such a
// group is computed by the same unrolled code as the interior, on a copy of the columns it
// reads with zeros where the image has none, rather than one pixel at a time (a 9-FMA
// dependency chain per pixel).
#pragma once
#include <cstddef>

#include "kernels/dwconv/dwconv.h"

namespace attocore {

// The stage: DwconvArgs::scratch (dwconv_scratch_floats(shape) floats, the calling thread's
// own, sized by the executor at plan time) and the staged window rows.
struct DwconvEdgeStage {
  float* buf = nullptr;  // 3 window rows x columns x in_c, then kDwconvInputSlack zeros
  const float* rows[3] = {nullptr, nullptr, nullptr};  // null where the window row is padding
};

// Copies input columns [ix0, ix0 + columns) (columns <= kDwconvEdgeMaxColumns) of the three
// window rows `rows` (null: a padding row) into `stage`, zero outside [0, in_w). A group
// then reads the stage as it reads the image, starting at column 0.
void stage_dwconv_edge(const DwconvShape& s, const float* const rows[3], int ix0, int columns,
                       DwconvEdgeStage& stage);

}  // namespace attocore
