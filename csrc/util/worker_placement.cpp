#include "util/worker_placement.h"

#if defined(__linux__) && !defined(__ANDROID__)  // bionic has no pthread_setaffinity_np
#define ATTOCORE_PLACE_WORKERS 1
#include <pthread.h>
#include <sched.h>
#endif

namespace attocore {

#if defined(ATTOCORE_PLACE_WORKERS)

WorkerPlacement::WorkerPlacement() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return;  // unknown: never pin
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &set)) allowed_.push_back(cpu);
}

void WorkerPlacement::add(std::thread& worker) { workers_.push_back(worker.native_handle()); }

void WorkerPlacement::keep_off_caller() {
  const int cpu = sched_getcpu();
  if (cpu < 0 || cpu == excluded_ || workers_.empty() || allowed_.size() < 2) return;
  excluded_ = cpu;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : allowed_)
    if (c != cpu) CPU_SET(c, &set);
  // A failure (a CPU set changed under us) leaves the workers where they were: only slower.
  for (auto handle : workers_) pthread_setaffinity_np(handle, sizeof(set), &set);
}

#else

WorkerPlacement::WorkerPlacement() = default;
void WorkerPlacement::add(std::thread&) {}
void WorkerPlacement::keep_off_caller() {}

#endif

}  // namespace attocore
