// The C API over the C++ core: every entry point catches everything and turns it into a
// status code plus a thread-local message.
#include <cstring>
#include <memory>
#include <vector>
#include <new>
#include <string>

#include "attocore/attocore.h"
#include "exec/executor.h"
#include "kernels/dispatch/kernel_table.h"
#include "util/error.h"

struct attocore_model {
  std::shared_ptr<attocore::CompiledModel> compiled;
};

struct attocore_session {
  std::shared_ptr<attocore::CompiledModel> compiled;  // keeps the model alive
  attocore::Session session;
  std::vector<attocore::StepTiming> timings;  // the last profiled run's (its strings are handed out)
  attocore_session(std::shared_ptr<attocore::CompiledModel> m, int threads)
      : compiled(m), session(std::move(m), threads) {}
};

namespace {

thread_local std::string last_error;

attocore_status fail_with(attocore_status status, const std::string& message) {
  last_error = message;
  return status;
}

template <typename Body>
attocore_status guarded(Body&& body) {
  try {
    last_error.clear();
    body();
    return ATTOCORE_OK;
  } catch (const attocore::Error& e) {
    return fail_with(static_cast<attocore_status>(e.code()), e.what());
  } catch (const std::bad_alloc&) {
    return fail_with(ATTOCORE_ERROR_RESOURCE, "out of memory");
  } catch (const std::exception& e) {
    return fail_with(ATTOCORE_ERROR_INTERNAL, e.what());
  } catch (...) {
    return fail_with(ATTOCORE_ERROR_INTERNAL, "unknown error");
  }
}

const attocore::Graph& graph_of(const attocore_model* m) { return m->compiled->graph(); }

// Elements of an activation shape at a batch (at most 4096 x 2^31: fits 64 bits).
uint64_t elements(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) n *= uint64_t(d);
  return n;
}

// outputs[i] (capacities[i] floats) receives graph output i; fewer buffers than outputs:
// the first ones only. profile: time each step into session->timings.
attocore_status run(attocore_session* session, const float* input, const size_t* input_count, int batch,
                    const std::vector<float*>& outputs, const size_t* capacities, bool profile = false) {
  bool null_output = outputs.empty();
  for (float* o : outputs) null_output = null_output || o == nullptr;
  if (session == nullptr || input == nullptr || null_output)
    return fail_with(ATTOCORE_ERROR_ARGUMENT, "null session, input or output");
  return guarded([&] {
    if (batch < 1 || batch > attocore::Session::kMaxBatch)
      attocore::fail(attocore::ErrorCode::kInput, "batch must be in [1, 4096]");
    const uint64_t in_need = elements(session->compiled->input_shape(batch));
    if (input_count != nullptr && *input_count != in_need)
      attocore::fail(attocore::ErrorCode::kInput, "input buffer holds " + std::to_string(*input_count) +
                                                      " floats, batch " + std::to_string(batch) + " needs " +
                                                      std::to_string(in_need));
    for (size_t i = 0; i < outputs.size(); ++i) {
      const uint64_t need = elements(session->compiled->output_shape_at(int(i), batch));
      if (capacities[i] < need)
        attocore::fail(attocore::ErrorCode::kInput, (outputs.size() > 1 ? "output " + std::to_string(i) + " " : "output ") +
                                                        "buffer holds " + std::to_string(capacities[i]) +
                                                        " floats, the result needs " + std::to_string(need));
    }
    if (profile) session->timings.clear();
    if (outputs.size() == 1)
      session->session.run(input, batch, outputs[0], profile ? &session->timings : nullptr);
    else
      session->session.run(input, batch, outputs, profile ? &session->timings : nullptr);
  });
}

attocore_status run(attocore_session* session, const float* input, const size_t* input_count, int batch,
                    float* output, size_t output_capacity, bool profile = false) {
  return run(session, input, input_count, batch, std::vector<float*>{output}, &output_capacity, profile);
}

}  // namespace

extern "C" {

const char* attocore_version(void) { return ATTOCORE_VERSION_STRING; }  // CMakeLists.txt, from pyproject.toml

const char* attocore_status_name(attocore_status status) {
  if (status == ATTOCORE_ERROR_ARGUMENT) return "argument";
  return attocore::error_code_name(static_cast<attocore::ErrorCode>(status));
}

const char* attocore_last_error(void) { return last_error.c_str(); }

const char* attocore_isa(void) {
  try {
    return attocore::isa_name(attocore::best_isa());
  } catch (const std::exception& e) {  // ATTOCORE_ISA names an unavailable set: loads fail with the reason
    last_error = e.what();
    return "unavailable";
  }
}

namespace {

// The compile options of load options (null: the defaults); false for an unknown precision.
bool compile_options(const attocore_model_options* options, attocore::CompileOptions* out) {
  if (options == nullptr || options->precision == nullptr || std::strcmp(options->precision, "fp32") == 0) return true;
  if (std::strcmp(options->precision, "fp16") == 0) {
    out->precision = attocore::Precision::kFp16;
    return true;
  }
  if (std::strcmp(options->precision, "bf16") == 0) {
    out->precision = attocore::Precision::kBf16;
    return true;
  }
  return false;
}

}  // namespace

void attocore_model_options_init(attocore_model_options* options) {
  if (options) options->precision = "fp32";
}

attocore_status attocore_model_load_file_with_options(const char* path, const attocore_model_options* options,
                                                      attocore_model** model) {
  if (path == nullptr || model == nullptr) return fail_with(ATTOCORE_ERROR_ARGUMENT, "null path or model pointer");
  *model = nullptr;
  attocore::CompileOptions o;
  if (!compile_options(options, &o))
    return fail_with(ATTOCORE_ERROR_ARGUMENT, "unknown precision (expected \"fp32\", \"fp16\" or \"bf16\")");
  return guarded([&] {
    auto m = std::make_unique<attocore_model>();
    m->compiled = std::make_shared<attocore::CompiledModel>(attocore::ModelFile::open(path), o);
    *model = m.release();
  });
}

attocore_status attocore_model_load_memory_with_options(const void* data, size_t size,
                                                        const attocore_model_options* options, attocore_model** model) {
  if (data == nullptr || model == nullptr) return fail_with(ATTOCORE_ERROR_ARGUMENT, "null data or model pointer");
  *model = nullptr;
  attocore::CompileOptions o;
  if (!compile_options(options, &o))
    return fail_with(ATTOCORE_ERROR_ARGUMENT, "unknown precision (expected \"fp32\", \"fp16\" or \"bf16\")");
  return guarded([&] {
    auto m = std::make_unique<attocore_model>();
    m->compiled = std::make_shared<attocore::CompiledModel>(attocore::ModelFile::from_memory(data, size), o);
    *model = m.release();
  });
}

attocore_status attocore_model_load_file(const char* path, attocore_model** model) {
  return attocore_model_load_file_with_options(path, nullptr, model);
}

attocore_status attocore_model_load_memory(const void* data, size_t size, attocore_model** model) {
  return attocore_model_load_memory_with_options(data, size, nullptr, model);
}

const char* attocore_model_precision(const attocore_model* model) {
  return model ? attocore::precision_name(model->compiled->precision()) : "";
}

void attocore_model_free(attocore_model* model) { delete model; }

attocore_status attocore_model_input_shape(const attocore_model* model, int64_t dims[4]) {
  if (model == nullptr || dims == nullptr) return fail_with(ATTOCORE_ERROR_ARGUMENT, "null argument");
  return guarded([&] {
    const auto s = model->compiled->input_shape(1);
    for (int i = 0; i < 4; ++i) dims[i] = s[i];
  });
}

attocore_status attocore_model_output_shape(const attocore_model* model, int64_t dims[6], int* ndim) {
  if (model == nullptr || dims == nullptr || ndim == nullptr) return fail_with(ATTOCORE_ERROR_ARGUMENT, "null argument");
  return guarded([&] {
    const auto s = model->compiled->output_shape(1);
    *ndim = int(s.size());
    for (size_t i = 0; i < s.size() && i < 6; ++i) dims[i] = s[i];
  });
}

int attocore_model_num_outputs(const attocore_model* model) { return model ? model->compiled->output_count() : 0; }

const char* attocore_model_output_name(const attocore_model* model, int index) {
  if (model == nullptr || index < 0 || index >= attocore_model_num_outputs(model)) return nullptr;
  const attocore::Graph& g = graph_of(model);
  return g.tensors[size_t(g.outputs[size_t(index)])].name.c_str();
}

attocore_status attocore_model_output_shape_at(const attocore_model* model, int index, int64_t dims[6], int* ndim) {
  if (model == nullptr || dims == nullptr || ndim == nullptr) return fail_with(ATTOCORE_ERROR_ARGUMENT, "null argument");
  if (index < 0 || index >= attocore_model_num_outputs(model))
    return fail_with(ATTOCORE_ERROR_ARGUMENT, "output index " + std::to_string(index) + " out of range (the model has " +
                                                  std::to_string(attocore_model_num_outputs(model)) + " outputs)");
  return guarded([&] {
    const auto s = model->compiled->output_shape_at(index, 1);
    *ndim = int(s.size());
    for (size_t i = 0; i < s.size() && i < 6; ++i) dims[i] = s[i];
  });
}

const char* attocore_model_name(const attocore_model* model) {
  return model ? graph_of(model).metadata.name.c_str() : nullptr;
}

int attocore_model_tvm_steps(const attocore_model* model) { return model ? model->compiled->tvm_steps() : 0; }

int attocore_model_num_labels(const attocore_model* model) {
  return model ? int(graph_of(model).metadata.labels.size()) : 0;
}

const char* attocore_model_label(const attocore_model* model, int index) {
  if (model == nullptr || index < 0 || index >= attocore_model_num_labels(model)) return nullptr;
  return graph_of(model).metadata.labels[size_t(index)].c_str();
}

attocore_status attocore_model_normalization(const attocore_model* model, float* mean, float* std, int capacity,
                                             uint32_t* resize) {
  if (model == nullptr || mean == nullptr || std == nullptr || resize == nullptr)
    return fail_with(ATTOCORE_ERROR_ARGUMENT, "null argument");
  const auto& md = graph_of(model).metadata;
  if (capacity < int(md.mean.size()))
    return fail_with(ATTOCORE_ERROR_ARGUMENT, "capacity below the number of input channels");
  std::memcpy(mean, md.mean.data(), md.mean.size() * sizeof(float));
  std::memcpy(std, md.std.data(), md.std.size() * sizeof(float));
  *resize = md.resize;
  return ATTOCORE_OK;
}

void attocore_session_options_init(attocore_session_options* options) {
  if (options) {
    options->threads = 0;
    options->max_arena_bytes = 0;
  }
}

attocore_status attocore_session_create(const attocore_model* model, const attocore_session_options* options,
                                        attocore_session** session) {
  if (model == nullptr || session == nullptr) return fail_with(ATTOCORE_ERROR_ARGUMENT, "null model or session pointer");
  *session = nullptr;
  static_assert(ATTOCORE_MAX_THREADS == attocore::Session::kMaxThreads, "one thread bound");
  const int threads = options ? options->threads : 0;
  if (threads < 0 || threads > ATTOCORE_MAX_THREADS)
    return fail_with(ATTOCORE_ERROR_ARGUMENT, "threads must be in [0, " + std::to_string(ATTOCORE_MAX_THREADS) +
                                                  "] (0: all cores), got " + std::to_string(threads));
  return guarded([&] {
    auto s = std::make_unique<attocore_session>(model->compiled, threads);
    if (options && options->max_arena_bytes) s->session.set_max_arena_bytes(options->max_arena_bytes);
    *session = s.release();
  });
}

void attocore_session_free(attocore_session* session) { delete session; }

attocore_status attocore_session_run_checked(attocore_session* session, const float* input, size_t input_count,
                                             int batch, float* output, size_t output_capacity) {
  return run(session, input, &input_count, batch, output, output_capacity);
}

attocore_status attocore_session_run(attocore_session* session, const float* input, int batch, float* output,
                                     size_t output_capacity) {
  return run(session, input, nullptr, batch, output, output_capacity);
}

attocore_status attocore_session_run_outputs(attocore_session* session, const float* input, size_t input_count,
                                             int batch, float* const* outputs, const size_t* output_capacities,
                                             int num_outputs) {
  if (session == nullptr || outputs == nullptr || output_capacities == nullptr)
    return fail_with(ATTOCORE_ERROR_ARGUMENT, "null session, outputs or capacities");
  if (num_outputs != session->compiled->output_count())
    return fail_with(ATTOCORE_ERROR_ARGUMENT, "num_outputs is " + std::to_string(num_outputs) + ", the model has " +
                                                  std::to_string(session->compiled->output_count()) + " outputs");
  return run(session, input, &input_count, batch, std::vector<float*>(outputs, outputs + num_outputs),
             output_capacities);
}

attocore_status attocore_session_run_profiled(attocore_session* session, const float* input, size_t input_count,
                                              int batch, float* output, size_t output_capacity,
                                              attocore_step_timing* steps, int capacity, int* count) {
  if (count == nullptr || (steps == nullptr && capacity > 0))
    return fail_with(ATTOCORE_ERROR_ARGUMENT, "null steps or count");
  const attocore_status st = run(session, input, &input_count, batch, output, output_capacity, true);
  if (st != ATTOCORE_OK) return st;
  *count = int(session->timings.size());
  for (int i = 0; i < capacity && i < *count; ++i) {
    const attocore::StepTiming& t = session->timings[size_t(i)];
    steps[i] = attocore_step_timing{t.name.c_str(), t.kernel.c_str(), t.macs, t.seconds};
  }
  return ATTOCORE_OK;
}

attocore_status attocore_session_arena_bytes(attocore_session* session, int batch, size_t* bytes) {
  if (session == nullptr || bytes == nullptr) return fail_with(ATTOCORE_ERROR_ARGUMENT, "null argument");
  return guarded([&] { *bytes = session->session.arena_bytes(batch); });
}

attocore_status attocore_session_memory_bytes(attocore_session* session, int batch, size_t* bytes) {
  if (session == nullptr || bytes == nullptr) return fail_with(ATTOCORE_ERROR_ARGUMENT, "null argument");
  return guarded([&] { *bytes = session->session.memory_bytes(batch); });
}

}  // extern "C"
