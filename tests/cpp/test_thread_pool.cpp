// The thread pool: every index of a parallel_for is visited once, in at most kPieces calls
// per chunk, never two at once with one worker index, back to back and while workers wake
// from sleep; and (Linux) its workers are kept off the CPU of the thread that calls it.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "test_harness.h"
#include "util/thread_pool.h"
#include "util/worker_placement.h"

#if defined(__linux__) && !defined(__ANDROID__)
#include <pthread.h>
#include <sched.h>
#define PLACEMENT_TESTED 1
#endif

using namespace attocore;

// One parallel_for: every index visited once, by at most threads() x kPieces calls, never
// two at once with the same worker index (it selects per-thread scratch).
static void check_once(ThreadPool& pool, int n, const char* when) {
  std::vector<std::atomic<int>> seen(n);
  std::vector<std::atomic<int>> busy(pool.threads());
  std::atomic<int> bad_worker{0}, overlapping{0}, calls{0};
  pool.parallel_for(n, [&](int begin, int end, int worker) {
    if (worker < 0 || worker >= pool.threads() || begin >= end) {
      bad_worker = 1;
      return;
    }
    if (busy[worker].exchange(1)) overlapping = 1;
    ++calls;
    for (int i = begin; i < end; ++i) seen[i].fetch_add(1);
    busy[worker] = 0;
  });
  int wrong = 0;
  for (auto& s : seen) wrong += s.load() != 1;
  CHECK_MSG(wrong == 0 && !bad_worker, "threads=%d n=%d %s: %d indices not visited exactly once", pool.threads(), n,
            when, wrong);
  CHECK_MSG(!overlapping, "threads=%d n=%d %s: two calls at once with one worker index", pool.threads(), n, when);
  CHECK_MSG(calls <= pool.threads() * ThreadPool::kPieces, "threads=%d n=%d %s: %d calls", pool.threads(), n, when,
            calls.load());
}

static void check_coverage(int threads) {
  ThreadPool pool(threads);
  for (int n : {1, 2, 3, 7, 8, 100, 1001})
    for (int rep = 0; rep < 20; ++rep) check_once(pool, n, "back to back");
  // After idle gaps long enough for the workers to sleep: the caller takes over the pieces
  // of workers still waking up, and they join in mid-job.
  for (int gap_ms : {1, 5, 20})
    for (int n : {2, 8, 100}) {
      std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));
      for (int rep = 0; rep < 5; ++rep) check_once(pool, n, "after an idle gap");
    }
}

#ifdef PLACEMENT_TESTED
static std::vector<int> cpus_of(cpu_set_t& set) {
  std::vector<int> out;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) out.push_back(c);
  return out;
}

// With the caller pinned to each allowed CPU in turn, a worker may use every allowed CPU
// but the caller's (or, with a single CPU, keeps its mask).
static void check_placement() {
  cpu_set_t original;
  CPU_ZERO(&original);
  CHECK(sched_getaffinity(0, sizeof(original), &original) == 0);
  const std::vector<int> allowed = cpus_of(original);
  std::atomic<bool> stop{false};
  std::thread worker([&] {
    while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  WorkerPlacement placement;
  placement.add(worker);
  for (int caller : allowed) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(caller, &one);
    CHECK(sched_setaffinity(0, sizeof(one), &one) == 0);
    placement.keep_off_caller();
    cpu_set_t got;
    CPU_ZERO(&got);
    CHECK(pthread_getaffinity_np(worker.native_handle(), sizeof(got), &got) == 0);
    std::vector<int> want;
    for (int c : allowed)
      if (c != caller || allowed.size() == 1) want.push_back(c);
    CHECK_MSG(cpus_of(got) == want, "caller on CPU %d: worker allowed %zu CPUs, want %zu without the caller's", caller,
              cpus_of(got).size(), want.size());
  }
  sched_setaffinity(0, sizeof(original), &original);
  stop = true;
  worker.join();
  std::printf("placement checked on %zu CPUs\n", allowed.size());
}
#endif

int main() {
  for (int threads : {1, 2, 3, 4}) check_coverage(threads);
#ifdef PLACEMENT_TESTED
  check_placement();
#endif
  TEST_MAIN_END();
}
