// A fixed pool of worker threads for parallel_for over independent rows. Work is split in
// static, contiguous chunks, one per thread, and every output element is computed by the
// same code wherever the cuts fall: results are bit-identical across thread counts.
//
// Workers spin briefly on an atomic job generation before sleeping on a condition variable:
// a network runs ~50 parallel steps per inference, and a futex wake-up per step (tens of
// microseconds on a VM) would eat the gain of a second core. A worker's chunk is claimed in
// pieces: a running worker takes all of it at once (one call, as if unsplit), but while it
// has not started, the caller, done with its own chunk, takes pieces from the end; and for
// a few milliseconds after it was woken from sleep a worker takes one piece at a time, so
// a caller is never stuck behind a worker that is still being scheduled. Waking one takes
// milliseconds on a VM, whose idle vCPU must be rescheduled: a step that waited for it made
// the first inferences after an idle gap (a camera's frame interval) 2-5x slower at 2 threads.
// Workers are also kept off the caller's CPU (worker_placement.h), so a woken one is not
// queued behind it.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
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

  // Calls fn(begin, end, worker) over [0, n), each index exactly once: split into at most
  // threads() chunks, a chunk possibly into up to kPieces calls over consecutive parts (so
  // fn must give the same results for any contiguous split); worker (< threads()) indexes
  // per-thread scratch, and no two calls with the same worker run at once. The caller
  // thread takes chunk 0. Not re-entrant: one parallel_for at a time per pool.
  using Body = std::function<void(int, int, int)>;
  void parallel_for(int n, const Body& fn);

  static int hardware_threads();
  static constexpr int kPieces = 4;  // most calls one chunk is cut into

 private:
  // Who runs which pieces of one worker's chunk, for the current job: the generation it
  // belongs to (32 bits), the first piece nobody has claimed (16) and one past the last (16).
  // The worker claims from the front, the caller from the back.
  struct alignas(64) ChunkClaim {
    std::atomic<uint64_t> state{0};
    std::atomic<int> finished{0};  // pieces run to completion, by either thread
    int pieces = 0;
  };
  void worker_loop(int index);
  void run_pieces(int chunk, int first, int last, int worker) const;  // pieces [first, last)

  std::vector<std::thread> workers_;
  WorkerPlacement placement_;
  std::mutex mutex_;
  std::condition_variable wake_cv_;
  const Body* job_ = nullptr;
  int job_n_ = 0, job_chunks_ = 0;
  std::atomic<unsigned> generation_{0};
  std::vector<ChunkClaim> claims_;  // by worker index (0 unused)
  std::atomic<int> sleeping_{0};  // workers blocked on wake_cv_ (or about to be)
  std::atomic<bool> stop_{false};
};

}  // namespace attocore
