// Errors inside the core are C++ exceptions carrying a stable code; the Python bindings map
// each code to an exception class and the C API to a return code, so none crosses an ABI.
#pragma once
#include <stdexcept>
#include <string>

#include "include/attocore/attocore.h"

namespace attocore {

enum class ErrorCode : int {
  kOk = 0,
  kIo = 1,           // file cannot be opened or read
  kFormat = 2,       // malformed weight file: magic, version, checksum, offsets, sizes
  kGraph = 3,        // inconsistent graph: shapes, attributes, order
  kUnsupported = 4,  // an operator or attribute this runtime cannot execute
  kInput = 5,        // bad input to run(): shape, dtype, batch
  kResource = 6,     // a declared size exceeds a limit
  kInternal = 7,
  // 8 is the C API's ATTOCORE_ERROR_ARGUMENT (null pointers), which the core never raises.
  kConfig = 9,  // a setting (ATTOCORE_ISA) asks for what this build or CPU cannot do
};

// The C API returns these codes as attocore_status by a plain cast (csrc/capi/attocore_c.cpp),
// and attocore/errors.py maps the same numbers to Python exceptions: the two enums must agree.
static_assert(int(ErrorCode::kOk) == ATTOCORE_OK, "ErrorCode and attocore_status differ");
static_assert(int(ErrorCode::kIo) == ATTOCORE_ERROR_IO, "ErrorCode and attocore_status differ");
static_assert(int(ErrorCode::kFormat) == ATTOCORE_ERROR_FORMAT, "ErrorCode and attocore_status differ");
static_assert(int(ErrorCode::kGraph) == ATTOCORE_ERROR_GRAPH, "ErrorCode and attocore_status differ");
static_assert(int(ErrorCode::kUnsupported) == ATTOCORE_ERROR_UNSUPPORTED, "ErrorCode and attocore_status differ");
static_assert(int(ErrorCode::kInput) == ATTOCORE_ERROR_INPUT, "ErrorCode and attocore_status differ");
static_assert(int(ErrorCode::kResource) == ATTOCORE_ERROR_RESOURCE, "ErrorCode and attocore_status differ");
static_assert(int(ErrorCode::kInternal) == ATTOCORE_ERROR_INTERNAL, "ErrorCode and attocore_status differ");
static_assert(int(ErrorCode::kConfig) == ATTOCORE_ERROR_CONFIG, "ErrorCode and attocore_status differ");

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

[[noreturn]] inline void fail(ErrorCode code, const std::string& message) { throw Error(code, message); }

}  // namespace attocore
