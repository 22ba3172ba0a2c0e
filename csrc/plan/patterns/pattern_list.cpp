#include "plan/patterns/pattern_list.h"

namespace attocore {

const std::vector<const Pattern*>& fused_patterns() {
  static const std::vector<const Pattern*> list = {
#define ATTOCORE_PATTERN(name) &name##_pattern(),
#include "plan/patterns/pattern_list.inc"
#undef ATTOCORE_PATTERN
  };
  return list;
}

}  // namespace attocore
