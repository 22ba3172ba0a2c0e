#pragma once
#include "kernels/dwconv/dwconv.h"

namespace attocore {

// 4 output channels per vector: multiplier 1 loads 4 inputs, 2 duplicates a pair, 4
// broadcasts one input; other multipliers gather lanes.
void dwconv_neon(const DwconvArgs& a);

}  // namespace attocore
