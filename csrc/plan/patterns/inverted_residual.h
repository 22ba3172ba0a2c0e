// What the inverted residual block (inverted_residual.cpp) keeps for itself: module_tail
// leaves these expansions alone.
#pragma once
#include <string>

#include "plan/patterns/pattern.h"

namespace attocore {

// A stride-1 1x1 whose output goes only to a depthwise layer (as its input) and is at least
// kBlockMinExpandedBytes per image. Only there did the block in one step pay: MobileNet-V2's
// first expansion (112x112x96, 4.8 MB) with its stride-2 depthwise and projection went from
// 1.70 to 1.10 ms (per-step minimums, 1 thread); blocks of 1.8 MB and less ran 0-5% slower
// fused than split (expansion alone or paired with the 1x1 before it, depthwise with the
// projection). False with the reason in *why otherwise.
constexpr double kBlockMinExpandedBytes = 3 << 20;
bool is_block_expansion(const FusionContext& ctx, int op, std::string* why);

}  // namespace attocore
