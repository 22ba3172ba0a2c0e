// A Layer is one executable step: it owns whatever it prepared at load time (packed
// weights) and runs on arena buffers. Kernels are chosen when the layer is made.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "util/thread_pool.h"

namespace attocore {

struct RunContext {
  ThreadPool* pool = nullptr;
  int batch = 1;
};

class Layer {
 public:
  virtual ~Layer() = default;
  // inputs: the activation inputs in graph order (constants were captured at creation).
  virtual void run(const RunContext& ctx, const float* const* inputs, float* output) const = 0;
  virtual const char* kernel_name() const = 0;
};

// Makes the layer for one op of a validated graph.
std::unique_ptr<Layer> make_layer(const Graph& graph, const OpInfo& op);

// Multiply-adds of one op at batch 1 (0 for ops without).
int64_t op_macs(const Graph& graph, const OpInfo& op);

}  // namespace attocore
