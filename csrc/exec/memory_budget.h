// Memory shared by the sessions of one model: together they never hold more than the limit,
// however many run at once (attocore._core's session pool gives every session of a model
// one budget). A session that needs more than is free waits for others; while it waits,
// `reclaim` is asked to free what idle sessions hold.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>

namespace attocore {

class MemoryBudget {
 public:
  MemoryBudget(size_t limit, std::function<void()> reclaim) : limit_(limit), reclaim_(std::move(reclaim)) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  size_t limit() const { return limit_; }
  size_t used() const;
  // Takes `bytes` when that much is free now.
  bool try_acquire(size_t bytes);
  // Takes `bytes` (at most the limit), waiting for other sessions to release memory.
  void acquire(size_t bytes);
  void release(size_t bytes);

 private:
  const size_t limit_;
  const std::function<void()> reclaim_;
  mutable std::mutex mutex_;
  std::condition_variable released_;
  size_t used_ = 0;
};

}  // namespace attocore
