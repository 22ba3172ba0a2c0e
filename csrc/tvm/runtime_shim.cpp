// The few TVM runtime entry points a TVM-generated kernel object calls, implemented on
// attocore's own thread pool and allocator: linked beside exported kernels instead of
// libtvm_runtime. Parallel loops run as one task per pool thread.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tvm/ffi_abi.h"
#include "tvm/kernel_registry.h"
#include "util/thread_pool.h"

using attocore::tvmffi::ParallelGroupEnv;
using attocore::tvmffi::ParallelLambda;

extern "C" {

void TVMFFIErrorSetRaisedFromCStrParts(const char* kind, const char** parts, int32_t num_parts) {
  std::string message = kind ? std::string(kind) + ": " : std::string();
  for (int32_t i = 0; i < num_parts; ++i)
    if (parts[i]) message += parts[i];
  attocore::tvm_last_error() = message;
}

void* TVMBackendAllocWorkspace(int, int, uint64_t nbytes, int, int) {
  return std::aligned_alloc(64, size_t((nbytes + 63) / 64 * 64));
}

int TVMBackendFreeWorkspace(int, int, void* ptr) {
  std::free(ptr);
  return 0;
}

int TVMBackendParallelLaunch(ParallelLambda flambda, void* cdata, int num_task) {
  attocore::ThreadPool* pool = attocore::tvm_current_pool();
  const int tasks = pool ? pool->threads() : 1;
  int status = 0;
  if (pool == nullptr || tasks == 1) {
    ParallelGroupEnv env{nullptr, 1};
    return flambda(0, &env, cdata);
  }
  (void)num_task;  // TVM passes 0 ("all"); the pool's size decides
  pool->parallel_for(tasks, [&](int begin, int end, int) {
    for (int t = begin; t < end; ++t) {
      ParallelGroupEnv env{nullptr, tasks};
      if (flambda(t, &env, cdata) != 0) status = -1;
    }
  });
  return status;
}

// No exported kernel synchronises inside a parallel loop; if one ever does, fail its call
// rather than run it unsynchronised.
int TVMBackendParallelBarrier(int, ParallelGroupEnv*) {
  attocore::tvm_last_error() = "TVMBackendParallelBarrier is not supported by attocore's TVM shim";
  return -1;
}

// A TVM object reaches the backend functions through these pointers (weak, null in the
// object; TVM's module loader fills them in). Strong definitions here fill them at link time.
void* (*__TVMBackendAllocWorkspace)(int, int, uint64_t, int, int) = TVMBackendAllocWorkspace;
int (*__TVMBackendFreeWorkspace)(int, int, void*) = TVMBackendFreeWorkspace;
int (*__TVMBackendParallelLaunch)(ParallelLambda, void*, int) = TVMBackendParallelLaunch;
int (*__TVMBackendParallelBarrier)(int, ParallelGroupEnv*) = TVMBackendParallelBarrier;

}  // extern "C"
