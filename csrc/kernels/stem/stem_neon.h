#pragma once
#include "kernels/stem/stem.h"

namespace attocore {

void stem_neon(const StemArgs& a);

}  // namespace attocore
