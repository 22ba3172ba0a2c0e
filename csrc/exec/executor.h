// CompiledModel: a loaded file turned into steps with prepared kernels (immutable, shared
// by any number of sessions). It keeps the graph's structure and its layers' packed weights,
// not the file: once compiled, a ModelFile nobody else holds is freed, so each weight is
// resident once. Session: an arena plan per batch size, the arena and a
// thread pool; one run at a time per session.
//
// Memory: everything a run allocates (the arena, each thread's scratch and the shared
// scratch) is counted against the session's limit before it is allocated; sessions given one
// MemoryBudget also never hold more than its limit together.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "exec/layer.h"
#include "exec/memory_budget.h"
#include "format/model_file.h"
#include "kernels/dispatch/kernel_table.h"
#include "plan/memory_plan.h"
#include "util/aligned_vector.h"

namespace attocore {

struct Step {
  std::string name;
  std::unique_ptr<Layer> layer;
  StepTensors io;    // activation tensors by port
  int64_t macs = 0;  // at batch 1
};

// The arithmetic of the float layers. kFp16: weights packed as binary16 and fp16 products
// and sums in the GEMM kernels (1x1 and im2col convolutions, fully connected layers, the
// fused steps' GEMMs), on ARMv8.2 FEAT_FP16 cores only (kernel_table.h's fp16_support(): elsewhere
// the model is refused with ErrorCode::kConfig); activations stay fp32 between kernels and
// every other kernel computes in fp32 (DESIGN.md, "fp16 precision"). kBf16: the same GEMMs
// with weights packed as bfloat16 pairs, A rounded to bf16 as the kernel loads it, products
// summed in fp32 by AVX512-BF16's vdpbf16ps (kernel_table.h's bf16_support(): x86 CPUs with
// AVX512-BF16 only, refused elsewhere alike; DESIGN.md, "bf16 precision"). int8 layers are not
// affected.
enum class Precision { kFp32, kFp16, kBf16 };
const char* precision_name(Precision p);
// "fp32", "fp16" or "bf16"; anything else fails with ErrorCode::kConfig.
Precision parse_precision(const std::string& name);

struct CompileOptions {
  bool force_reference = false;  // portable reference kernels, no fusion (also ATTOCORE_FORCE_REFERENCE=1)
  bool fuse = true;
  // Steps run by linked TVM kernels (see exec/tvm_layer.h): "", "all" or op names; the
  // default comes from ATTOCORE_TVM_LAYERS.
  std::string tvm_layers = default_tvm_layers();
  static std::string default_tvm_layers();
  Precision precision = Precision::kFp32;
  // Tests only (no C API, Python or command-line setting reaches it): precision kBf16 on the
  // AVX-512F emulation of the bf16 instructions (bf16_emulated_kernel_table()), so a net's
  // bf16 error is measured on CPUs without AVX512-BF16 (tests/cpp/test_bf16_nets.cpp).
  bool bf16_emulated_for_tests = false;
};

class CompiledModel {
 public:
  explicit CompiledModel(std::shared_ptr<ModelFile> file, const CompileOptions& options = {});
  Isa isa() const { return isa_; }
  Precision precision() const { return precision_; }
  size_t scratch_floats() const { return scratch_floats_; }
  size_t shared_scratch_floats() const { return shared_scratch_floats_; }
  bool input_nchw() const { return input_nchw_; }
  int tvm_steps() const { return tvm_steps_; }

  // The file's graph without its constants' bytes (TensorInfo::data is null).
  const Graph& graph() const { return graph_; }
  const std::vector<Step>& steps() const { return steps_; }
  // Activation shape with the batch dimension set to `batch`.
  std::vector<int64_t> tensor_shape(int tensor, int batch) const;
  std::vector<int64_t> input_shape(int batch) const { return tensor_shape(graph().input, batch); }
  // The first graph output's shape; output_shape_at(i, batch) any output's (0 .. output_count() - 1).
  std::vector<int64_t> output_shape(int batch) const { return tensor_shape(graph().output, batch); }
  int output_count() const { return int(graph().outputs.size()); }
  std::vector<int64_t> output_shape_at(int index, int batch) const { return tensor_shape(graph().outputs.at(index), batch); }
  int64_t total_macs() const;

 private:
  Graph graph_;
  Isa isa_;
  Precision precision_ = Precision::kFp32;
  std::vector<Step> steps_;
  size_t scratch_floats_ = 0;  // per thread, the largest any layer needs
  size_t shared_scratch_floats_ = 0;
  bool input_nchw_ = false;
  int tvm_steps_ = 0;
};

struct StepTiming {
  std::string name;
  std::string kernel;
  int64_t macs;
  double seconds;
};

class Session {
 public:
  static constexpr int kMaxBatch = 4096;
  // Thread counts beyond this are refused at every boundary (C API, Python, attocore-run):
  // a fixed bound, the same on every machine, far above the cores of the boards this serves.
  static constexpr int kMaxThreads = 256;
  // 8 GiB on 64-bit targets, 1 GiB on 32-bit boards (where size_t is 32 bits).
  static constexpr size_t kMaxArenaBytes = sizeof(size_t) >= 8 ? size_t(uint64_t(8) << 30) : size_t(1) << 30;

  // threads: 0 for the machine's cores (at most kMaxThreads), else 1 .. kMaxThreads
  // (std::invalid_argument otherwise). budget: shared with other sessions, or null.
  Session(std::shared_ptr<const CompiledModel> model, int threads, std::shared_ptr<MemoryBudget> budget = nullptr);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // input: NCHW float32 of input_shape(batch); output: output_shape(batch) elements, the
  // first graph output (a model with several computes them all and hands out that one).
  void run(const float* input, int batch, float* output, std::vector<StepTiming>* timings = nullptr);
  // Every graph output: outputs[i] holds output_shape_at(i, batch) elements (NCHW for a 4-D
  // map); outputs.size() must be the model's output_count().
  void run(const float* input, int batch, const std::vector<float*>& outputs,
           std::vector<StepTiming>* timings = nullptr);
  // Activation arena of the plan for `batch` (peak of the tensors alive at once).
  size_t arena_bytes(int batch);
  // Everything a run at `batch` allocates: the arena (with the kernels' over-read slack) and
  // the scratch of every thread; what the limit is checked against.
  size_t memory_bytes(int batch);
  // Frees the arena and scratch (the next run allocates them again) and returns them to the budget.
  void release_memory();
  int threads() const { return pool_.threads(); }
  // A run needing more memory than this fails with kResource (default and most kMaxArenaBytes;
  // a budget's limit also caps it).
  void set_max_arena_bytes(size_t bytes) { max_arena_bytes_ = bytes < kMaxArenaBytes ? bytes : kMaxArenaBytes; }
  const CompiledModel& model() const { return *model_; }

 private:
  static constexpr size_t kMaxCachedPlans = 16;
  const MemoryPlan& plan_for(int batch);
  // outputs[i] receives graph output i (fewer buffers than outputs: the first ones only).
  void run_to(const float* input, int batch, const std::vector<float*>& outputs, std::vector<StepTiming>* timings);
  size_t limit() const;
  uint64_t scratch_floats() const;  // every thread's and the shared scratch of the largest step
  // Makes the arena and scratch at least this large, within the limit and the budget.
  void reserve(size_t arena_bytes, uint64_t scratch_floats);

  std::shared_ptr<const CompiledModel> model_;
  ThreadPool pool_;
  std::shared_ptr<MemoryBudget> budget_;
  std::map<int, MemoryPlan> plans_;
  size_t max_arena_bytes_ = kMaxArenaBytes;
  std::unique_ptr<float[], void (*)(float*)> arena_{nullptr, nullptr};
  size_t arena_capacity_ = 0;
  AlignedVector<float> scratch_;  // threads x model's per-thread scratch, each on a cache line
  size_t held_ = 0;               // bytes of arena and scratch, taken from budget_ when there is one
};

}  // namespace attocore
