#pragma once
#include "kernels/dwconv/dwconv.h"

namespace attocore {

// 8 output channels per vector; a multiplier k > 1 is served by one load of the (at most
// 8) input channels a chunk needs and a lane permute that repeats each k times.
void dwconv_avx2(const DwconvArgs& a);

}  // namespace attocore
