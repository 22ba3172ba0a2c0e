// The arena planner: buffers alive at the same time never overlap; dead ones are reused.
#include <random>

#include "plan/memory_plan.h"
#include "test_harness.h"

using namespace attocore;

int main() {
  // A chain: each buffer is read only by the next step, so two buffers suffice.
  std::vector<BufferRequest> chain;
  for (int i = 0; i < 10; ++i) chain.push_back({1000, i - 1, i});
  MemoryPlan p = plan_memory(chain);
  CHECK_MSG(p.arena_bytes <= 2 * 1024, "chain arena %zu", p.arena_bytes);

  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<BufferRequest> reqs;
    int n = 1 + int(rng() % 30);
    for (int i = 0; i < n; ++i) {
      int a = int(rng() % 20) - 1, len = int(rng() % 6);
      reqs.push_back({size_t(1 + rng() % 5000), a, a + len});
    }
    MemoryPlan plan = plan_memory(reqs);
    size_t sum = 0;
    for (int i = 0; i < n; ++i) {
      sum += (reqs[i].bytes + 63) / 64 * 64;
      CHECK(plan.offsets[i] % 64 == 0);
      CHECK(plan.offsets[i] + reqs[i].bytes <= plan.arena_bytes);
      for (int j = 0; j < i; ++j) {
        bool live_together = reqs[i].first_step <= reqs[j].last_step && reqs[j].first_step <= reqs[i].last_step;
        bool disjoint = plan.offsets[i] + reqs[i].bytes <= plan.offsets[j] ||
                        plan.offsets[j] + reqs[j].bytes <= plan.offsets[i];
        CHECK_MSG(!live_together || disjoint, "trial %d: buffers %d and %d overlap", trial, i, j);
      }
    }
    CHECK(plan.arena_bytes <= sum);
  }
  TEST_MAIN_END();
}
