// Errors inside the core are C++ exceptions carrying a stable code; the Python bindings map
// each code to an exception class and the C API to a return code, so none crosses an ABI.
#pragma once
#include <stdexcept>
#include <string>

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
