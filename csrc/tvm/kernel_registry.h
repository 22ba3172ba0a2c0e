// TVM-generated layer kernels linked into this program (see `attocore export-tvm`): a table
// the executor's plan consults to run a layer with the TVM kernel instead of its own.
#pragma once
#include <string>
#include <vector>

#include "tvm/ffi_abi.h"

namespace attocore {

class ThreadPool;

struct TvmKernelEntry {
  const char* ops;     // comma-separated graph op names the kernel computes, e.g. "m1.decompress,m1.add"
  const char* roles;   // one letter per argument: i input, w conv weight (HWIO), b bias, r residual, o output
  const char* symbol;  // for messages
  tvmffi::SafeCall fn;
};

// Called by the generated registration file's static initializer.
void register_tvm_kernels(const TvmKernelEntry* entries, int count);
const std::vector<TvmKernelEntry>& tvm_kernels();

// The pool a running TVM kernel's parallel loops use (set around each call, per thread).
ThreadPool*& tvm_current_pool();
// The message of the last error a TVM kernel raised on this thread.
std::string& tvm_last_error();

}  // namespace attocore
