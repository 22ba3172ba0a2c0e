// The work split of pixel-parallel steps.
#pragma once
#include <algorithm>
#include <cstdint>

#include "exec/layer.h"
#include "util/thread_pool.h"

namespace attocore {

// One contiguous range of pixels per thread, cut at multiples of `mr` near the even split;
// each range is then walked in tiles by the kernel. A pixel's result does not depend on
// where the cuts fall, so any thread count gives identical bits. With every thread busy,
// each range is offered as ThreadPool::kPieces parts (the pool hands a late worker's parts
// to the caller); consecutive parts run as one call, so a range run whole is exactly the
// thread's range.
template <typename Body>
void for_pixels(const RunContext& ctx, int pixels, int mr, const Body& body) {
  const int threads = std::min(ctx.pool->threads(), std::max(1, pixels / mr));
  const int parts = threads == ctx.pool->threads() && threads > 1 ? threads * ThreadPool::kPieces : threads;
  auto cut = [&](int i) { return i == parts ? pixels : std::min(pixels, (int(int64_t(pixels) * i / parts) + mr / 2) / mr * mr); };
  ctx.pool->parallel_for(parts, [&](int t0, int t1, int worker) {
    const int begin = cut(t0), end = cut(t1);
    if (end > begin) body(begin, end, ctx.worker_scratch(worker));
  });
}

// [begin, end) ranges of `total` items in blocks of `grain` over the threads, for steps whose
// items are independent (elementwise ops, data movement): any split gives the same bits.
template <typename Body>
void for_ranges(const RunContext& ctx, int64_t total, int64_t grain, const Body& body) {
  ctx.pool->parallel_for(int((total + grain - 1) / grain), [&](int b0, int b1, int) {
    const int64_t begin = int64_t(b0) * grain, end = std::min<int64_t>(total, int64_t(b1) * grain);
    if (end > begin) body(begin, end);
  });
}

}  // namespace attocore
