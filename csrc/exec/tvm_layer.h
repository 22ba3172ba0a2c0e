// A step run by a TVM-generated kernel (linked in from `attocore export-tvm`) instead of a
// hand-written one: the same NHWC buffers, weights handed over in the kernel's HWIO layout.
#pragma once
#include <memory>
#include <vector>

#include "exec/layer.h"
#include "graph/graph.h"
#include "tvm/kernel_registry.h"

namespace attocore {

struct TvmStep {
  const TvmKernelEntry* kernel = nullptr;
  std::vector<int> ops;  // graph op indices it covers, in order; the step sits at the last
  int input = -1, residual = -1, output = -1;  // activation tensor ids
};

// Which steps the linked TVM kernels take over. `selection`: "" none, "all", or a
// comma-separated list of op names (a kernel is used when its first op is listed).
std::vector<TvmStep> select_tvm_steps(const Graph& graph, const std::string& selection);

std::unique_ptr<Layer> make_tvm_layer(const Graph& graph, const TvmStep& step);

}  // namespace attocore
