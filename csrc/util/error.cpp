#include "util/error.h"

namespace attocore {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kFormat: return "format";
    case ErrorCode::kGraph: return "graph";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kInput: return "input";
    case ErrorCode::kResource: return "resource";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kConfig: return "config";
  }
  return "unknown";
}

}  // namespace attocore
