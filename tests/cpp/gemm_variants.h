// The kernels a GEMM tester runs for one list: every entry, and each entry that has a tail
// kernel (for a narrow last panel) once more without it, so both paths are checked.
#pragma once
#include <deque>
#include <vector>

#include "kernels/gemm/gemm.h"

namespace attocore {

// `store` owns the tail-less copies (a deque: their addresses stay put as it grows).
inline std::vector<const GemmKernel*> with_tailless_copies(const std::vector<const GemmKernel*>& listed,
                                                           std::deque<GemmKernel>& store) {
  std::vector<const GemmKernel*> kernels;
  for (const GemmKernel* k : listed) {
    kernels.push_back(k);
    if (k->tail) {
      GemmKernel alone = *k;
      alone.tail = nullptr;
      kernels.push_back(&store.emplace_back(alone));
    }
  }
  return kernels;
}

}  // namespace attocore
