#include "util/log.h"

#include <cstdlib>

namespace attocore {

bool log_enabled(std::string_view topic) {
  const char* env = std::getenv("ATTOCORE_LOG");
  if (env == nullptr) return false;
  std::string_view topics(env);
  while (!topics.empty()) {
    const size_t comma = topics.find(',');
    if (topics.substr(0, comma) == topic) return true;
    if (comma == std::string_view::npos) break;
    topics.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace attocore
