#include "exec/executor.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "exec/op_shapes.h"
#include "exec/tvm_layer.h"
#include "kernels/dispatch/kernel_table.h"
#include "kernels/layout/layout.h"
#include "plan/fusion.h"
#include "plan/op_macs.h"
#include "plan/patterns/pattern_list.h"
#include "util/error.h"
#include "util/finite.h"
#include "util/log.h"

namespace attocore {

std::string CompileOptions::default_tvm_layers() {
  const char* v = std::getenv("ATTOCORE_TVM_LAYERS");
  return v ? v : "";
}

namespace {

// Layers copy or pack what they need of the constants, so the model's own graph need not
// point at the file's bytes (which may be freed once it is compiled).
Graph without_constant_data(const Graph& g) {
  Graph structure = g;
  for (TensorInfo& t : structure.tensors) t.data = nullptr, t.raw = nullptr;
  return structure;
}

}  // namespace

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::kFp32: return "fp32";
    case Precision::kFp16: return "fp16";
    case Precision::kBf16: return "bf16";
  }
  return "?";
}

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "fp16") return Precision::kFp16;
  if (name == "bf16") return Precision::kBf16;
  fail(ErrorCode::kConfig, "unknown precision \"" + name.substr(0, 32) + "\" (expected \"fp32\", \"fp16\" or \"bf16\")");
}

namespace {

// The kernels of the model's float layers: the ISA's table, or for precision fp16 / bf16 the
// fp16 / bf16 table (refused where the CPU lacks FEAT_FP16 / AVX512-BF16, or when another
// instruction set's kernels are asked for: they are the NEON / AVX-512 table's with other GEMMs).
const KernelTable& table_for(Isa isa, Precision precision, bool bf16_emulated) {
  if (precision == Precision::kFp32) return kernel_table(isa);
  const bool fp16 = precision == Precision::kFp16;
  // These fail with the missing feature's name.
  const KernelTable& table = fp16 ? fp16_kernel_table() : bf16_emulated ? bf16_emulated_kernel_table() : bf16_kernel_table();
  if (isa != table.isa)
    fail(ErrorCode::kConfig, std::string("precision \"") + precision_name(precision) + "\" runs the " +
                                 (fp16 ? "NEON fp16" : "AVX-512 bf16") + " kernels, not the " + isa_name(isa) +
                                 " kernels (force_reference, ATTOCORE_FORCE_REFERENCE or ATTOCORE_ISA chose them): use "
                                 "precision \"fp32\" with them");
  return table;
}

}  // namespace

CompiledModel::CompiledModel(std::shared_ptr<ModelFile> file, const CompileOptions& options)
    : graph_(without_constant_data(file->graph())), isa_(best_isa(options.force_reference)),
      precision_(options.precision) {
  const Graph& g = file->graph();
  const KernelTable& table = table_for(isa_, precision_, options.bf16_emulated_for_tests);
  // Ops a linked TVM kernel takes over stay out of fusion; the TVM step sits at its last op.
  const std::vector<TvmStep> tvm_steps = select_tvm_steps(g, options.tvm_layers);
  std::vector<bool> tvm_covered(g.ops.size(), false);
  std::vector<int> tvm_step_at(g.ops.size(), -1);
  for (size_t i = 0; i < tvm_steps.size(); ++i) {
    for (int op : tvm_steps[i].ops) tvm_covered[op] = true;
    tvm_step_at[tvm_steps[i].ops.back()] = int(i);
  }
  FusionOptions fusion;
  fusion.enable = options.fuse && isa_ != Isa::kReference;
  fusion.disabled_because = isa_ == Isa::kReference ? "fusion is off (reference kernels)" : "fusion is off";
  fusion.keep_single = tvm_covered;
  fusion.kept_because = "computed by a linked TVM kernel (ATTOCORE_TVM_LAYERS)";
  const FusionPlan plan = plan_fusion(g, fusion);
  if (log_enabled("fusion")) std::fputs(fusion_report(g, plan).c_str(), stderr);
  for (const Match& m : plan.steps) {
    Step step;
    if (m.pattern == &single_op_pattern() && tvm_covered[m.position]) {
      if (tvm_step_at[m.position] < 0) continue;  // computed by the TVM step at its last op
      const TvmStep& t = tvm_steps[tvm_step_at[m.position]];
      step.layer = make_tvm_layer(g, t);
      for (int op : t.ops) {
        step.name += (step.name.empty() ? "" : "+") + g.ops[op].name;
        step.macs += op_macs(g, g.ops[op]);
      }
      step.io.input = t.input;
      step.io.shortcut = t.residual;
      step.io.output = t.output;
      ++tvm_steps_;
      steps_.push_back(std::move(step));
      continue;
    }
    step.layer = m.pattern->build(g, m, table);
    step.name = m.pattern->step_name(g, m);
    step.io = m.pattern->tensors(g, m);
    step.macs = m.pattern->macs(g, m);
    if (step.layer->reads_nchw_input()) input_nchw_ = true;
    // Rounded to whole cache lines, so each thread's scratch starts on one.
    scratch_floats_ = std::max(scratch_floats_, (step.layer->scratch_floats() + 15) / 16 * 16);
    shared_scratch_floats_ = std::max(shared_scratch_floats_, step.layer->shared_scratch_floats());
    steps_.push_back(std::move(step));
  }
}

std::vector<int64_t> CompiledModel::tensor_shape(int tensor, int batch) const {
  std::vector<int64_t> shape = graph().tensors[tensor].shape;
  shape[0] = batch;
  return shape;
}

int64_t CompiledModel::total_macs() const {
  int64_t total = 0;
  for (const Step& s : steps_) total += s.macs;
  return total;
}

namespace {

int checked_threads(int threads) {
  if (threads < 0 || threads > Session::kMaxThreads)
    throw std::invalid_argument("threads must be in [0, " + std::to_string(Session::kMaxThreads) + "]");
  return threads > 0 ? threads : std::min(ThreadPool::hardware_threads(), Session::kMaxThreads);
}

// The arena's allocation: whole cache lines and 64 bytes of slack past the last tensor
// (vector kernels may over-read: kDwconvInputSlack).
uint64_t arena_allocation(uint64_t arena_bytes) { return (arena_bytes + 63) / 64 * 64 + 64; }

std::string kib(uint64_t bytes) { return std::to_string((bytes + 1023) / 1024) + " KiB"; }

}  // namespace

Session::Session(std::shared_ptr<const CompiledModel> model, int threads, std::shared_ptr<MemoryBudget> budget)
    : model_(std::move(model)), pool_(checked_threads(threads)), budget_(std::move(budget)) {}

Session::~Session() { release_memory(); }

size_t Session::limit() const { return budget_ ? std::min(max_arena_bytes_, budget_->limit()) : max_arena_bytes_; }

uint64_t Session::scratch_floats() const {
  return uint64_t(model_->scratch_floats()) * uint64_t(pool_.threads()) + model_->shared_scratch_floats();
}

size_t Session::memory_bytes(int batch) {
  if (batch < 1 || batch > kMaxBatch) fail(ErrorCode::kInput, "batch must be in [1, " + std::to_string(kMaxBatch) + "]");
  const uint64_t total = arena_allocation(plan_for(batch).arena_bytes) + scratch_floats() * sizeof(float);
  return size_t(std::min<uint64_t>(total, SIZE_MAX));
}

void Session::release_memory() {
  arena_.reset();
  arena_capacity_ = 0;
  AlignedVector<float>().swap(scratch_);
  if (budget_ && held_ > 0) budget_->release(held_);
  held_ = 0;
}

void Session::reserve(size_t arena_bytes, uint64_t scratch) {
  // In 64 bits: per-thread scratch times the threads may not fit a 32-bit size_t.
  const uint64_t need = arena_allocation(arena_bytes) + scratch * sizeof(float);
  if (need > limit())
    fail(ErrorCode::kResource, "a run needs " + kib(need) + " (arena " + kib(arena_allocation(arena_bytes)) +
                                   ", scratch " + kib(scratch * sizeof(float)) + "), over the limit of " +
                                   kib(limit()));
  if (arena_ && arena_bytes <= arena_capacity_ && scratch <= scratch_.size()) return;
  // Grow both to what this run needs, keeping what earlier (larger) runs needed while it fits.
  size_t arena_size = std::max(arena_bytes, arena_capacity_), scratch_size = std::max(size_t(scratch), scratch_.size());
  uint64_t total = arena_allocation(arena_size) + uint64_t(scratch_size) * sizeof(float);
  if (total > limit()) arena_size = arena_bytes, scratch_size = size_t(scratch), total = need;
  release_memory();
  if (budget_ && !budget_->try_acquire(size_t(total))) {
    arena_size = arena_bytes, scratch_size = size_t(scratch), total = need;
    budget_->acquire(size_t(total));
  }
  held_ = size_t(total);
  void* p = std::aligned_alloc(64, size_t(arena_allocation(arena_size)));
  if (p == nullptr) {
    release_memory();
    fail(ErrorCode::kResource, "cannot allocate the arena (" + kib(arena_allocation(arena_size)) + ")");
  }
  arena_ = std::unique_ptr<float[], void (*)(float*)>(static_cast<float*>(p), [](float* q) { std::free(q); });
  arena_capacity_ = arena_size;
  try {
    scratch_ = AlignedVector<float>(scratch_size);
  } catch (const std::bad_alloc&) {
    release_memory();
    fail(ErrorCode::kResource, "cannot allocate the scratch (" + kib(uint64_t(scratch_size) * sizeof(float)) + ")");
  }
}

const MemoryPlan& Session::plan_for(int batch) {
  auto it = plans_.find(batch);
  if (it != plans_.end()) return it->second;
  // A plan holds an offset per tensor: a caller cycling through every batch size would grow
  // the cache without bound (4096 plans of 65,536 tensors: 2 GiB), so it is kept small.
  if (plans_.size() >= kMaxCachedPlans) plans_.clear();
  const Graph& g = model_->graph();
  const auto& steps = model_->steps();
  // One request per activation tensor: born at its producing step, dead after its last reader.
  std::vector<int> request_of(g.tensors.size(), -1);
  std::vector<BufferRequest> requests;
  auto add = [&](int tensor, int step) {
    BufferRequest r;
    // In 64 bits first: a file may declare tensors whose batch size would overflow size_t.
    const uint64_t bytes = uint64_t(g.tensors[tensor].elements) * uint64_t(batch) * dtype_bytes(g.tensors[tensor].dtype);
    if (bytes > limit())
      fail(ErrorCode::kResource, "tensor '" + g.tensors[tensor].name + "' at batch " + std::to_string(batch) +
                                     " needs " + std::to_string(bytes / 1024) + " KiB, over the arena limit of " +
                                     std::to_string(limit() / 1024) + " KiB");
    r.bytes = size_t(bytes);
    r.first_step = r.last_step = step;
    request_of[tensor] = int(requests.size());
    requests.push_back(r);
  };
  if (!model_->input_nchw()) add(g.input, -1);  // else the first layer reads the caller's buffer
  std::vector<int> last_reader(g.tensors.size(), -1);
  for (int i = 0; i < int(steps.size()); ++i)
    for (int t : steps[i].io.reads()) last_reader[t] = i;
  for (int i = 0; i < int(steps.size()); ++i) {
    const StepTensors& io = steps[i].io;
    for (int t : io.reads())
      if (request_of[t] >= 0) requests[request_of[t]].last_step = i;
    // In place: the output takes the bytes of an input this step is the last to read, unless
    // the step also reads that tensor as its other input (y = conv1x1(x) + x: the GEMM would
    // read A columns its first panel had already overwritten).
    const std::optional<InputPort> port = steps[i].layer->overwritable_input();
    const int victim = port ? io[*port] : -1;
    const std::vector<int> reads = io.reads();
    const bool read_once = victim >= 0 && std::count(reads.begin(), reads.end(), victim) == 1;
    if (read_once && request_of[victim] >= 0 && last_reader[victim] == i && !g.is_output(victim) &&
        g.tensors[victim].bytes() == g.tensors[io.output].bytes()) {
      request_of[io.output] = request_of[victim];
    } else {
      add(io.output, i);
    }
    if (io.next >= 0) add(io.next, i);
  }
  // Every graph output lives to the end of the run (never reused), to be copied out.
  for (int t : g.outputs) {
    if (request_of[t] < 0)  // a fused step kept it to itself: FusionContext::internal must not allow that
      fail(ErrorCode::kInternal, "graph output '" + g.tensors[t].name + "' is not written by any step");
    requests[request_of[t]].last_step = int(steps.size());
  }
  MemoryPlan plan = plan_memory(requests);
  if (plan.arena_bytes > limit())
    fail(ErrorCode::kResource, "batch " + std::to_string(batch) + " needs a " +
                                   std::to_string(plan.arena_bytes / 1024) + " KiB arena, over the limit of " +
                                   std::to_string(limit() / 1024) + " KiB");
  // Re-index offsets by tensor id for the run loop.
  MemoryPlan by_tensor;
  by_tensor.arena_bytes = plan.arena_bytes;
  by_tensor.offsets.assign(g.tensors.size(), 0);
  for (size_t t = 0; t < g.tensors.size(); ++t)
    if (request_of[t] >= 0) by_tensor.offsets[t] = plan.offsets[request_of[t]];
  return plans_.emplace(batch, std::move(by_tensor)).first->second;
}

size_t Session::arena_bytes(int batch) {
  if (batch < 1 || batch > kMaxBatch) fail(ErrorCode::kInput, "batch must be in [1, " + std::to_string(kMaxBatch) + "]");
  return size_t(plan_for(batch).arena_bytes);
}

void Session::run(const float* input, int batch, float* output, std::vector<StepTiming>* timings) {
  run_to(input, batch, std::vector<float*>{output}, timings);
}

void Session::run(const float* input, int batch, const std::vector<float*>& outputs, std::vector<StepTiming>* timings) {
  if (int(outputs.size()) != model_->output_count())
    fail(ErrorCode::kInput, "the model has " + std::to_string(model_->output_count()) + " outputs, given " +
                                std::to_string(outputs.size()) + " buffers");
  run_to(input, batch, outputs, timings);
}

void Session::run_to(const float* input, int batch, const std::vector<float*>& outputs, std::vector<StepTiming>* timings) {
  if (batch < 1 || batch > kMaxBatch) fail(ErrorCode::kInput, "batch must be in [1, " + std::to_string(kMaxBatch) + "]");
  bool null_buffer = input == nullptr || outputs.empty();
  for (float* o : outputs) null_buffer = null_buffer || o == nullptr;
  if (null_buffer) fail(ErrorCode::kInput, "null input or output buffer");
  const Graph& g = model_->graph();
  // Here rather than in each front end: the C API and the runner get the same check.
  if (!all_finite(input, size_t(g.tensors[g.input].elements) * batch))
    fail(ErrorCode::kInput, "input contains NaN or infinity");
  const MemoryPlan& plan = plan_for(batch);
  reserve(size_t(plan.arena_bytes), scratch_floats());
  char* base = reinterpret_cast<char*>(arena_.get());
  auto buffer = [&](int tensor) {
    if (tensor == g.input && model_->input_nchw()) return const_cast<float*>(input);  // read only
    return reinterpret_cast<float*>(base + plan.offsets[tensor]);
  };
  if (!model_->input_nchw()) {
    const auto in_shape = model_->input_shape(batch);
    nchw_to_nhwc(batch, int(in_shape[1]), int(in_shape[2]), int(in_shape[3]), input, buffer(g.input));
  }

  const size_t scratch_per_thread = model_->scratch_floats();
  RunContext ctx{&pool_, batch, scratch_.data(), scratch_per_thread,
                 scratch_.data() + scratch_per_thread * pool_.threads()};
  if (timings) timings->clear();
  for (const Step& step : model_->steps()) {
    StepBuffers io;
    io.input = buffer(step.io.input);
    if (step.io.shortcut >= 0) io.shortcut = buffer(step.io.shortcut);
    io.output = buffer(step.io.output);
    if (step.io.next >= 0) io.next = buffer(step.io.next);
    std::array<const float*, kMaxStepInputs> more{};
    for (size_t k = 0; k < step.io.more.size(); ++k) more[k] = buffer(step.io.more[k]);
    io.more = more.data(), io.more_count = int(step.io.more.size());
    auto t0 = std::chrono::steady_clock::now();
    step.layer->run(ctx, io);
    if (timings) {
      std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
      timings->push_back({step.name, step.layer->kernel_name(), step.macs, dt.count()});
    }
  }
  for (size_t i = 0; i < outputs.size() && i < g.outputs.size(); ++i) {
    const int t = g.outputs[i];
    const auto out_shape = model_->tensor_shape(t, batch);
    const float* result = buffer(t);
    if (out_shape.size() > 2) {  // stored NHWC as its 4-D view (exec/op_shapes.h)
      const View4 v = view4(out_shape, batch);
      nhwc_to_nchw(batch, int(v.d[1]), int(v.d[2]), int(v.d[3]), result, outputs[i]);
    } else {
      std::memcpy(outputs[i], result, size_t(g.tensors[t].elements) * batch * sizeof(float));
    }
  }
}

}  // namespace attocore
