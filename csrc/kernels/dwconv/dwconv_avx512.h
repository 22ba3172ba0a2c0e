#pragma once
#include "kernels/dwconv/dwconv.h"

namespace attocore {

void dwconv_avx512(const DwconvArgs& a);  // chunks of 16 output channels (pack with cw = 16)

}  // namespace attocore
