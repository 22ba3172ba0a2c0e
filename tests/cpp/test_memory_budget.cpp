// MemoryBudget: threads taking and returning memory never hold more than the limit together,
// a waiting thread asks for reclaim, and one that needs the whole limit gets it once the
// others have released theirs.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "exec/memory_budget.h"
#include "test_harness.h"

using namespace attocore;

int main() {
  constexpr size_t kLimit = 1000;
  std::atomic<size_t> held{0}, peak{0};
  std::atomic<int> reclaims{0};
  MemoryBudget budget(kLimit, [&] { reclaims.fetch_add(1); });
  CHECK(budget.try_acquire(kLimit) && !budget.try_acquire(1));
  budget.release(kLimit);
  CHECK(budget.used() == 0);

  std::vector<std::thread> pool;
  for (int t = 0; t < 8; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const size_t want = 100 + size_t((t * 131 + i * 17) % 700);
        budget.acquire(want);
        const size_t now = held.fetch_add(want) + want;
        size_t p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        if (i % 8 == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));  // overlap the holds
        held.fetch_sub(want);
        budget.release(want);
      }
    });
  }
  for (auto& t : pool) t.join();
  CHECK_MSG(peak.load() <= kLimit, "peak %zu over the limit %zu", peak.load(), kLimit);
  CHECK(budget.used() == 0);
  CHECK(reclaims.load() > 0);  // 8 threads wanting up to 800 of 1000 must have waited

  // The whole limit, while another thread holds part of it and gives it back later.
  budget.acquire(600);
  std::thread later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    budget.release(600);
  });
  budget.acquire(kLimit);
  CHECK(budget.used() == kLimit);
  budget.release(kLimit);
  later.join();
  TEST_MAIN_END();
}
