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

// How long a worker keeps polling for the next job before it sleeps. For kColdAfterWakeUp
// after a wake-up it claims its chunk piece by piece: traced here, its first steps after one
// ran up to milliseconds late (its vCPU still being rescheduled) while the caller waited.
constexpr auto kSpin = std::chrono::microseconds(200);
constexpr auto kColdAfterWakeUp = std::chrono::milliseconds(5);

void chunk_bounds(int n, int chunks, int index, int* begin, int* end) {
  const int base = n / chunks, extra = n % chunks;
  *begin = index * base + std::min(index, extra);
  *end = *begin + base + (index < extra ? 1 : 0);
}

uint64_t pack(unsigned generation, int front, int back) {
  return uint64_t(generation) << 32 | uint64_t(front) << 16 | uint64_t(back);
}
unsigned generation_of(uint64_t s) { return unsigned(s >> 32); }
int front_of(uint64_t s) { return int(s >> 16 & 0xffff); }
int back_of(uint64_t s) { return int(s & 0xffff); }

void spin_or_yield(int spins) {
  if (spins < 4096) {
    ATTOCORE_CPU_RELAX();
  } else {
    std::this_thread::yield();
  }
}

}  // namespace

int ThreadPool::hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : int(n);
}

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = hardware_threads();
  claims_ = std::vector<ChunkClaim>(size_t(threads));
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

// Pieces [first, last) of chunk `chunk` of the current job, as one call.
void ThreadPool::run_pieces(int chunk, int first, int last, int worker) const {
  int begin, end, b, e;
  chunk_bounds(job_n_, job_chunks_, chunk, &begin, &end);
  const int pieces = claims_[size_t(chunk)].pieces;
  chunk_bounds(end - begin, pieces, first, &b, &e);
  const int from = begin + b;
  chunk_bounds(end - begin, pieces, last - 1, &b, &e);
  (*job_)(from, begin + e, worker);
}

void ThreadPool::parallel_for(int n, const Body& fn) {
  if (n <= 0) return;
  const int chunks = std::min(n, threads());
  if (chunks == 1) {
    fn(0, n, 0);
    return;
  }
  placement_.keep_off_caller();
  unsigned generation;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    job_n_ = n;
    job_chunks_ = chunks;
    generation = generation_.load(std::memory_order_relaxed) + 1;
    for (int c = 1; c < chunks; ++c) {
      ChunkClaim& claim = claims_[size_t(c)];
      int begin, end;
      chunk_bounds(n, chunks, c, &begin, &end);
      claim.pieces = std::min(kPieces, end - begin);
      claim.finished.store(0, std::memory_order_relaxed);
      claim.state.store(pack(generation, 0, claim.pieces), std::memory_order_relaxed);
    }
    generation_.store(generation, std::memory_order_release);
  }
  // A futex call only when a worker sleeps (notify_all checks for waiters first anyway).
  if (sleeping_.load(std::memory_order_acquire) > 0) wake_cv_.notify_all();
  int begin, end;
  chunk_bounds(n, chunks, 0, &begin, &end);
  fn(begin, end, 0);
  // Pieces nobody has claimed yet (a worker not yet running, or one still taking them one
  // at a time), from the back: the same pieces, so the same bits, whoever runs them.
  for (int c = 1; c < chunks; ++c) {
    ChunkClaim& claim = claims_[size_t(c)];
    uint64_t s = claim.state.load(std::memory_order_acquire);
    while (front_of(s) < back_of(s)) {
      const int last = back_of(s) - 1;
      if (claim.state.compare_exchange_weak(s, pack(generation, front_of(s), last), std::memory_order_acq_rel)) {
        run_pieces(c, last, last + 1, 0);
        claim.finished.fetch_add(1, std::memory_order_release);
        s = claim.state.load(std::memory_order_acquire);
      }
    }
  }
  // The chunks are balanced, so the others finish about now: poll, then yield.
  for (int c = 1; c < chunks; ++c) {
    const ChunkClaim& claim = claims_[size_t(c)];
    for (int spins = 0; claim.finished.load(std::memory_order_acquire) != claim.pieces; ++spins) spin_or_yield(spins);
  }
}

void ThreadPool::worker_loop(int index) {
  unsigned seen = 0;
  auto cold_until = std::chrono::steady_clock::time_point::min();
  for (;;) {
    // Poll for a new generation for a while, then sleep until notified.
    const auto deadline = std::chrono::steady_clock::now() + kSpin;
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen && !stop_.load(std::memory_order_relaxed)) {
      ATTOCORE_CPU_RELAX();
      if (++spins % 256 == 0 && std::chrono::steady_clock::now() > deadline) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleeping_.fetch_add(1, std::memory_order_acq_rel);
        wake_cv_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
        sleeping_.fetch_sub(1, std::memory_order_acq_rel);
        cold_until = std::chrono::steady_clock::now() + kColdAfterWakeUp;
        break;
      }
    }
    if (stop_.load()) return;
    int chunks;
    {
      std::lock_guard<std::mutex> lock(mutex_);  // pairs with the publication in parallel_for
      seen = generation_.load();
      chunks = job_chunks_;
    }
    if (index >= chunks) continue;
    // Claim from the front: everything left at once, or one piece at a time while cold.
    // A claim made for an older generation fails: that job is over.
    ChunkClaim& claim = claims_[size_t(index)];
    const bool cold = std::chrono::steady_clock::now() < cold_until;
    uint64_t s = claim.state.load(std::memory_order_acquire);
    while (generation_of(s) == seen && front_of(s) < back_of(s)) {
      const int first = front_of(s), last = cold ? first + 1 : back_of(s);
      if (claim.state.compare_exchange_weak(s, pack(seen, last, back_of(s)), std::memory_order_acq_rel)) {
        run_pieces(index, first, last, index);
        claim.finished.fetch_add(last - first, std::memory_order_release);
        if (!cold) break;
        s = claim.state.load(std::memory_order_acquire);
      }
    }
  }
}

}  // namespace attocore
