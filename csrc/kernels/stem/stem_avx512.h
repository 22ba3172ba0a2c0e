#pragma once
#include "kernels/stem/stem.h"

namespace attocore {

void stem_avx512(const StemArgs& a);

}  // namespace attocore
