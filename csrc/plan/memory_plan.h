// Static memory plan: every activation tensor gets an offset in one arena, and tensors
// whose lifetimes do not overlap share bytes (greedy by size, as TFLite's arena planner).
#pragma once
#include <cstddef>
#include <vector>

namespace attocore {

struct BufferRequest {
  size_t bytes = 0;
  int first_step = 0;  // step that writes it (-1: before the first step)
  int last_step = 0;   // last step that reads it
};

struct MemoryPlan {
  std::vector<size_t> offsets;  // one per request, 64-byte aligned
  size_t arena_bytes = 0;
};

MemoryPlan plan_memory(const std::vector<BufferRequest>& requests);

}  // namespace attocore
