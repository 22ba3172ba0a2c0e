#include "exec/memory_budget.h"

#include <chrono>

namespace attocore {

size_t MemoryBudget::used() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return used_;
}

bool MemoryBudget::try_acquire(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (limit_ - used_ < bytes) return false;
  used_ += bytes;
  return true;
}

void MemoryBudget::acquire(size_t bytes) {
  std::unique_lock<std::mutex> lock(mutex_);
  while (limit_ - used_ < bytes) {
    // Idle sessions keep their buffers for their next run; a waiting one needs them freed.
    // reclaim_ takes the pool's lock and calls release(): not under ours.
    lock.unlock();
    if (reclaim_) reclaim_();
    lock.lock();
    if (limit_ - used_ >= bytes) break;
    // A busy session releases nothing until it is idle and reclaimed: poll, briefly.
    released_.wait_for(lock, std::chrono::milliseconds(2));
  }
  used_ += bytes;
}

void MemoryBudget::release(size_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    used_ -= bytes;
  }
  released_.notify_all();
}

}  // namespace attocore
