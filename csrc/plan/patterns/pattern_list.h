// The fused-step patterns in the order the planner tries them (pattern_list.inc), and the
// step an op no pattern took runs as (single_op.cpp).
#pragma once
#include <vector>

#include "plan/patterns/pattern.h"

namespace attocore {

#define ATTOCORE_PATTERN(name) const Pattern& name##_pattern();
#include "plan/patterns/pattern_list.inc"
#undef ATTOCORE_PATTERN

const std::vector<const Pattern*>& fused_patterns();
const Pattern& single_op_pattern();
Match single_op_match(int op);  // the step of `op` alone

}  // namespace attocore
