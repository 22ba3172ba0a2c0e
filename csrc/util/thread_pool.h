// A fixed pool of worker threads for parallel_for over independent rows. Work is split in
// static, contiguous chunks so each output element is computed by the same code whatever
// the thread count: results are bit-identical across thread counts.
//
// Workers spin briefly on an atomic job counter before sleeping on a condition variable:
// a network runs ~50 parallel steps per inference, and a futex wake-up per step (tens of
// microseconds on a VM) would eat the gain of a second core. A worker asleep is not waited
// for: while one is, the caller runs the whole job itself (the same chunks, so the same
// bits) and wakes the workers for the steps after. Waking one takes milliseconds on a VM,
// whose idle vCPU must be rescheduled, and a first step that waited for it made the first
// inference after an idle gap (50 ms) 3-4x slower than the next at 2 threads. Workers are
// also kept off the caller's CPU (worker_placement.h), so a woken one is not queued behind it.
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "util/worker_placement.h"

namespace attocore {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // threads <= 0: the machine's cores
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return int(workers_.size()) + 1; }

  // Calls fn(begin, end, worker) over [0, n) split into at most threads() chunks; worker
  // (< threads()) indexes per-thread scratch. The caller thread takes chunk 0.
  // Not re-entrant: one parallel_for at a time per pool.
  using Body = std::function<void(int, int, int)>;
  void parallel_for(int n, const Body& fn);

  static int hardware_threads();

 private:
  void worker_loop(int index);

  std::vector<std::thread> workers_;
  WorkerPlacement placement_;
  std::mutex mutex_;
  std::condition_variable wake_cv_;
  const Body* job_ = nullptr;
  int job_n_ = 0, job_chunks_ = 0;
  std::atomic<unsigned> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleeping_{0};     // workers blocked on wake_cv_ (or about to be)
  std::atomic<unsigned> wake_ups_{0};  // bumped to wake sleeping workers without a job
  std::atomic<bool> stop_{false};
};

}  // namespace attocore
