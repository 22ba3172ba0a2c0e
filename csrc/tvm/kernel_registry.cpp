#include "tvm/kernel_registry.h"

namespace attocore {

static std::vector<TvmKernelEntry>& registry() {
  static std::vector<TvmKernelEntry> entries;
  return entries;
}

void register_tvm_kernels(const TvmKernelEntry* entries, int count) {
  for (int i = 0; i < count; ++i) registry().push_back(entries[i]);
}

const std::vector<TvmKernelEntry>& tvm_kernels() { return registry(); }

ThreadPool*& tvm_current_pool() {
  thread_local ThreadPool* pool = nullptr;
  return pool;
}

std::string& tvm_last_error() {
  thread_local std::string message;
  return message;
}

}  // namespace attocore
