#include "util/thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ATTOCORE_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__) || defined(__arm__)
#define ATTOCORE_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define ATTOCORE_CPU_RELAX() ((void)0)
#endif

namespace attocore {
namespace {

// How long a worker keeps polling for the next job before it sleeps; longer after it was
// woken without one (the caller is mid-inference, running steps alone until the worker is
// back, some longer than kSpin).
constexpr auto kSpin = std::chrono::microseconds(200);
constexpr auto kSpinAfterWakeUp = std::chrono::milliseconds(5);

void chunk_bounds(int n, int chunks, int index, int* begin, int* end) {
  const int base = n / chunks, extra = n % chunks;
  *begin = index * base + std::min(index, extra);
  *end = *begin + base + (index < extra ? 1 : 0);
}

}  // namespace

int ThreadPool::hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : int(n);
}

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = hardware_threads();
  for (int i = 1; i < threads; ++i) {
    workers_.emplace_back([this, i] { worker_loop(i); });
    placement_.add(workers_.back());
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  wake_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::parallel_for(int n, const Body& fn) {
  if (n <= 0) return;
  const int chunks = std::min(n, threads());
  if (chunks == 1) {
    fn(0, n, 0);
    return;
  }
  placement_.keep_off_caller();
  if (sleeping_.load(std::memory_order_acquire) > 0) {
    // Wake the sleepers for the next steps, and do this one here, chunk by chunk.
    {
      std::lock_guard<std::mutex> lock(mutex_);
      wake_ups_.fetch_add(1, std::memory_order_release);
    }
    wake_cv_.notify_all();
    for (int c = 0; c < chunks; ++c) {
      int begin, end;
      chunk_bounds(n, chunks, c, &begin, &end);
      fn(begin, end, 0);
    }
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    job_n_ = n;
    job_chunks_ = chunks;
    pending_.store(chunks - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_cv_.notify_all();
  int begin, end;
  chunk_bounds(n, chunks, 0, &begin, &end);
  fn(begin, end, 0);
  // The chunks are balanced, so the others finish about now: poll, then yield.
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < 4096) {
      ATTOCORE_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
}

void ThreadPool::worker_loop(int index) {
  unsigned seen = 0;
  for (;;) {
    // Poll for a new generation for a while, then sleep until notified.
    auto deadline = std::chrono::steady_clock::now() + kSpin;
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen && !stop_.load(std::memory_order_relaxed)) {
      ATTOCORE_CPU_RELAX();
      if (++spins % 256 == 0 && std::chrono::steady_clock::now() > deadline) {
        std::unique_lock<std::mutex> lock(mutex_);
        const unsigned wakes = wake_ups_.load();
        sleeping_.fetch_add(1, std::memory_order_acq_rel);
        wake_cv_.wait(lock, [&] { return stop_.load() || generation_.load() != seen || wake_ups_.load() != wakes; });
        sleeping_.fetch_sub(1, std::memory_order_acq_rel);
        if (generation_.load() == seen && !stop_.load()) {  // woken for the steps to come: spin again
          deadline = std::chrono::steady_clock::now() + kSpinAfterWakeUp;
          continue;
        }
        break;
      }
    }
    if (stop_.load()) return;
    const Body* job;
    int n, chunks;
    {
      std::lock_guard<std::mutex> lock(mutex_);  // pairs with the publication in parallel_for
      seen = generation_.load();
      job = job_;
      n = job_n_;
      chunks = job_chunks_;
    }
    if (index < chunks) {
      int begin, end;
      chunk_bounds(n, chunks, index, &begin, &end);
      (*job)(begin, end, index);
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
}

}  // namespace attocore
