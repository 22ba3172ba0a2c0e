// Diagnostic reports on stderr, chosen by ATTOCORE_LOG: a comma-separated list of topics.
// "fusion": at each model load, which fused-step pattern took each op or why each passed
// it over (plan/fusion.h).
#pragma once
#include <string_view>

namespace attocore {

bool log_enabled(std::string_view topic);

}  // namespace attocore
