// Static memory plan: every activation tensor gets an offset in one arena, and tensors
// whose lifetimes do not overlap share bytes (greedy by size, as TFLite's arena planner).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace attocore {

struct BufferRequest {
  size_t bytes = 0;
  int first_step = 0;  // step that writes it (-1: before the first step)
  int last_step = 0;   // last step that reads it
};

// 64-bit offsets even on 32-bit targets, so a hostile file cannot wrap them around; the
// executor checks arena_bytes against its limit before allocating.
struct MemoryPlan {
  std::vector<uint64_t> offsets;  // one per request, 64-byte aligned
  uint64_t arena_bytes = 0;
};

MemoryPlan plan_memory(const std::vector<BufferRequest>& requests);

}  // namespace attocore
