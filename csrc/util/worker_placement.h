// Keeps a thread pool's workers off the CPU its calling thread runs on (Linux but Android;
// elsewhere a no-op). Measured on a 2-vCPU VM: a worker woken after an idle gap was often
// queued on the caller's own CPU (the waker's), where it waited milliseconds for the
// caller's time slice and then spun beside it; SmallResNet at 2 threads took 6-30 ms
// instead of 1.3 in one run in ten after a 50 ms gap. A worker whose affinity excludes the
// caller's CPU is woken on an idle one.
#pragma once
#include <thread>
#include <vector>

namespace attocore {

class WorkerPlacement {
 public:
  WorkerPlacement();  // reads the CPUs the creating thread may use
  void add(std::thread& worker);
  // From the calling thread, before it hands out work: when it runs on another CPU than at
  // the last call, the workers may use every allowed CPU but that one (one getcpu when
  // nothing changed; one affinity call per worker when it did).
  void keep_off_caller();

 private:
  std::vector<std::thread::native_handle_type> workers_;
  std::vector<int> allowed_;  // CPUs this process may run on
  int excluded_ = -1;         // the caller's CPU at the last re-pin
};

}  // namespace attocore
