#include "exec/executor.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "exec/tvm_layer.h"
#include "kernels/layout/layout.h"
#include "util/error.h"
#include "util/finite.h"

namespace attocore {

std::string CompileOptions::default_tvm_layers() {
  const char* v = std::getenv("ATTOCORE_TVM_LAYERS");
  return v ? v : "";
}

CompiledModel::CompiledModel(std::shared_ptr<ModelFile> file, const CompileOptions& options)
    : file_(std::move(file)), isa_(best_isa(options.force_reference)) {
  const Graph& g = file_->graph();
  const KernelTable& table = kernel_table(isa_);
  int input_readers = 0;
  for (const OpInfo& op : g.ops)
    for (int t : op.inputs) input_readers += t == g.input;
  // Ops a linked TVM kernel takes over stay out of fusion; the TVM step sits at its last op.
  const std::vector<TvmStep> tvm_steps = select_tvm_steps(g, options.tvm_layers);
  std::vector<bool> tvm_covered(g.ops.size(), false);
  std::vector<int> tvm_step_at(g.ops.size(), -1);
  for (size_t i = 0; i < tvm_steps.size(); ++i) {
    for (int op : tvm_steps[i].ops) tvm_covered[op] = true;
    tvm_step_at[tvm_steps[i].ops.back()] = int(i);
  }
  for (const FusedOps& group : plan_fusion(g, options.fuse && isa_ != Isa::kReference, tvm_covered)) {
    Step step;
    if (group.kind == FusedOps::Kind::kSingle && tvm_covered[group.op]) {
      if (tvm_step_at[group.op] < 0) continue;  // computed by the TVM step at its last op
      const TvmStep& t = tvm_steps[tvm_step_at[group.op]];
      step.layer = make_tvm_layer(g, t);
      for (int op : t.ops) step.name += (step.name.empty() ? "" : "+") + g.ops[op].name;
      step.inputs = {t.input};
      if (t.residual >= 0) step.inputs.push_back(t.residual);
      step.outputs = {t.output};
      step.macs = op_macs(g, g.ops[t.ops[0]]);
      ++tvm_steps_;
      steps_.push_back(std::move(step));
      continue;
    }
    LayerOptions layer_options;
    layer_options.input_is_nchw_graph_input =
        group.kind == FusedOps::Kind::kSingle && input_readers == 1 && g.ops[group.op].inputs[0] == g.input;
    step.layer = make_layer(g, group, table, layer_options);
    if (step.layer->reads_nchw_input()) input_nchw_ = true;
    // Rounded to whole cache lines, so each thread's scratch starts on one.
    scratch_floats_ = std::max(scratch_floats_, (step.layer->scratch_floats() + 15) / 16 * 16);
    shared_scratch_floats_ = std::max(shared_scratch_floats_, step.layer->shared_scratch_floats());
    if (group.kind == FusedOps::Kind::kSingle) {
      const OpInfo& op = g.ops[group.op];
      step.name = op.name;
      for (int t : op.inputs)
        if (!g.tensors[t].constant) step.inputs.push_back(t);
      step.outputs = {op.outputs[0]};
      step.macs = op_macs(g, op);
    } else if (group.kind == FusedOps::Kind::kConvGemm) {
      const OpInfo& conv = g.ops[group.first];
      const int head = group.expand >= 0 ? group.expand : group.dw >= 0 ? group.dw : group.first;
      step.name = (head != group.first ? g.ops[head].name + ".." : "") + conv.name +
                  (group.add >= 0 ? "+" + g.ops[group.add].name : "");
      step.inputs = {g.ops[head].inputs[0]};
      if (group.add >= 0) step.inputs.push_back(group.shortcut);
      step.outputs = {g.ops[group.add >= 0 ? group.add : group.first].outputs[0]};
      for (int op : {group.expand, group.dw, group.first})
        if (op >= 0) step.macs += op_macs(g, g.ops[op]);
    } else {
      const OpInfo& first = g.ops[group.dw >= 0 ? group.dw : group.first];
      const int last = group.add >= 0 ? group.add : group.second;
      step.name = first.name + ".." + g.ops[last].name;
      step.inputs.push_back(first.inputs[0]);
      if (group.shortcut >= 0) step.inputs.push_back(group.shortcut);
      step.outputs = {g.ops[last].outputs[0]};
      if (group.next >= 0) {
        step.outputs.push_back(g.ops[group.next].outputs[0]);
        step.name += "+" + g.ops[group.next].name;
      }
      for (int op : {group.dw, group.first, group.second, group.projection, group.next})
        if (op >= 0) step.macs += op_macs(g, g.ops[op]);
    }
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
    const uint64_t bytes = uint64_t(g.tensors[tensor].elements) * uint64_t(batch) * sizeof(float);
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
    for (int t : steps[i].inputs) last_reader[t] = i;
  for (int i = 0; i < int(steps.size()); ++i) {
    for (int t : steps[i].inputs)
      if (request_of[t] >= 0) requests[request_of[t]].last_step = i;
    // In place: the output takes the bytes of an input this step is the last to read, unless
    // the step also reads that tensor as another input (y = conv1x1(x) + x: the GEMM would
    // read A columns its first panel had already overwritten).
    const int k = steps[i].layer->overwritable_input();
    const int victim = k >= 0 && k < int(steps[i].inputs.size()) ? steps[i].inputs[k] : -1;
    const int out = steps[i].outputs[0];
    const bool read_once = std::count(steps[i].inputs.begin(), steps[i].inputs.end(), victim) == 1;
    if (victim >= 0 && read_once && request_of[victim] >= 0 && last_reader[victim] == i && victim != g.output &&
        g.tensors[victim].elements == g.tensors[out].elements) {
      request_of[out] = request_of[victim];
      for (size_t j = 1; j < steps[i].outputs.size(); ++j) add(steps[i].outputs[j], i);
      continue;
    }
    for (int t : steps[i].outputs) add(t, i);
  }
  requests[request_of[g.output]].last_step = int(steps.size());
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
  if (batch < 1 || batch > kMaxBatch) fail(ErrorCode::kInput, "batch must be in [1, " + std::to_string(kMaxBatch) + "]");
  if (input == nullptr || output == nullptr) fail(ErrorCode::kInput, "null input or output buffer");
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
  const float* inputs[16];  // op arity is bounded by limits::kMaxOpArity
  float* outputs[2];
  if (timings) timings->clear();
  for (const Step& step : model_->steps()) {
    for (size_t i = 0; i < step.inputs.size(); ++i) inputs[i] = buffer(step.inputs[i]);
    for (size_t i = 0; i < step.outputs.size(); ++i) outputs[i] = buffer(step.outputs[i]);
    auto t0 = std::chrono::steady_clock::now();
    step.layer->run(ctx, inputs, outputs);
    if (timings) {
      std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
      timings->push_back({step.name, step.layer->kernel_name(), step.macs, dt.count()});
    }
  }
  const auto out_shape = model_->output_shape(batch);
  const float* result = buffer(g.output);
  if (out_shape.size() == 4) {
    nhwc_to_nchw(batch, int(out_shape[1]), int(out_shape[2]), int(out_shape[3]), result, output);
  } else {
    std::memcpy(output, result, size_t(g.tensors[g.output].elements) * batch * sizeof(float));
  }
}

}  // namespace attocore
