#include "plan/memory_plan.h"

#include <algorithm>
#include <numeric>

namespace attocore {
namespace {

constexpr uint64_t kAlign = 64;

uint64_t align_up(uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

bool overlaps_in_time(const BufferRequest& a, const BufferRequest& b) {
  return a.first_step <= b.last_step && b.first_step <= a.last_step;
}

}  // namespace

MemoryPlan plan_memory(const std::vector<BufferRequest>& requests) {
  MemoryPlan plan;
  plan.offsets.assign(requests.size(), 0);
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  // Largest first; ties by birth so the plan is deterministic.
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return requests[a].bytes > requests[b].bytes; });
  std::vector<size_t> placed;
  for (size_t id : order) {
    const BufferRequest& r = requests[id];
    const uint64_t need = align_up(r.bytes);
    // Live neighbours sorted by offset; take the first gap that fits.
    std::vector<size_t> live;
    for (size_t other : placed)
      if (overlaps_in_time(r, requests[other])) live.push_back(other);
    std::sort(live.begin(), live.end(), [&](size_t a, size_t b) { return plan.offsets[a] < plan.offsets[b]; });
    uint64_t offset = 0;
    for (size_t other : live) {
      if (plan.offsets[other] >= offset + need) break;
      offset = std::max(offset, plan.offsets[other] + align_up(requests[other].bytes));
    }
    plan.offsets[id] = offset;
    plan.arena_bytes = std::max(plan.arena_bytes, offset + need);
    placed.push_back(id);
  }
  return plan;
}

}  // namespace attocore
