// A Layer is one executable step: it owns whatever it prepared at load time (packed
// weights, chosen microkernels) and runs on arena buffers. Single ops get theirs from
// exec/op_layers.h, fused steps from the pattern that took their ops (plan/patterns/).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util/thread_pool.h"

namespace attocore {

struct RunContext {
  ThreadPool* pool = nullptr;
  int batch = 1;
  float* scratch = nullptr;       // per-thread scratch: worker w owns [w * scratch_floats, ...)
  size_t scratch_floats = 0;
  float* shared_scratch = nullptr;  // one buffer for the whole step (filled before its parallel part)
  float* worker_scratch(int worker) const { return scratch + size_t(worker) * scratch_floats; }
};

// A step's activation tensors by role, so that what a step reads is named where it is set
// (the step's pattern) and where it is read (its layer, the memory planner), not counted
// by position. input: what the step's first product reads; shortcut: what a fused step adds
// in its epilogue, or the source of its projection (an add op's second addend); next: the
// second output of a module tail that computes the next module's compression.
enum class InputPort : uint8_t { kInput, kShortcut };

// more: a concat's third and later inputs (a step reads at most kMaxStepInputs tensors).
constexpr int kMaxStepInputs = 16;

struct StepTensors {  // tensor ids, -1 where the step has none
  int input = -1, shortcut = -1;
  int output = -1, next = -1;
  std::vector<int> more;
  int operator[](InputPort p) const { return p == InputPort::kInput ? input : shortcut; }
  // Every tensor the step reads, in order.
  std::vector<int> reads() const {
    std::vector<int> r;
    for (int t : {input, shortcut})
      if (t >= 0) r.push_back(t);
    r.insert(r.end(), more.begin(), more.end());
    return r;
  }
};

struct StepBuffers {  // the same, as arena buffers for one run
  const float* input = nullptr;
  const float* shortcut = nullptr;
  float* output = nullptr;
  float* next = nullptr;
  const float* const* more = nullptr;  // more_count buffers
  int more_count = 0;
  // Input i of every input the step reads (0: input, 1: shortcut, then more).
  const float* read(int i) const { return i == 0 ? input : i == 1 ? shortcut : more[i - 2]; }
};

class Layer {
 public:
  virtual ~Layer() = default;
  // Constants were captured at creation; io holds the step's activation buffers.
  virtual void run(const RunContext& ctx, const StepBuffers& io) const = 0;
  virtual std::string kernel_name() const = 0;
  virtual size_t scratch_floats() const { return 0; }  // per thread
  virtual size_t shared_scratch_floats() const { return 0; }
  // True when the layer reads the graph input as the caller gave it (NCHW), which spares
  // the executor the layout conversion and the input's arena buffer.
  virtual bool reads_nchw_input() const { return false; }
  // An input the output may be written over (same shape, read element by element just
  // before the same element is written), if any. The planner then gives the output that
  // input's bytes when nothing later reads the input: a module's input and output share one
  // buffer, and the arena holds at most the two largest tensors.
  virtual std::optional<InputPort> overwritable_input() const { return std::nullopt; }
};

}  // namespace attocore
