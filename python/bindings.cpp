// attocore._core: the native executor for Python. Errors become the classes attocore/errors.py
// maps their codes to; the GIL is released while a model runs.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "exec/executor.h"
#include "kernels/dispatch/kernel_table.h"
#include "kernels/peak/peak.h"
#include "plan/op_macs.h"
#include "tvm/kernel_registry.h"
#include "util/error.h"

namespace py = pybind11;
using namespace attocore;

namespace {

// Scalar arguments are checked here rather than by pybind11's conversion, whose TypeError
// lists every argument of the call, a model's bytes included.
int64_t index_argument(py::handle value, const char* name, int64_t lo, int64_t hi, const char* meaning) {
  if (PyBool_Check(value.ptr()) || !PyIndex_Check(value.ptr()))
    throw py::type_error(std::string(name) + " must be an int, not " + Py_TYPE(value.ptr())->tp_name);
  py::int_ v = py::reinterpret_steal<py::int_>(PyNumber_Index(value.ptr()));
  int overflow = 0;
  const long long x = PyLong_AsLongLongAndOverflow(v.ptr(), &overflow);
  if (overflow != 0 || x < lo || x > hi)
    throw py::value_error(std::string(name) + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                          "]" + meaning + ", got " + (overflow ? std::string("a larger value") : std::to_string(x)));
  return x;
}

bool bool_argument(py::handle value, const char* name) {
  if (!PyBool_Check(value.ptr()))
    throw py::type_error(std::string(name) + " must be a bool, not " + Py_TYPE(value.ptr())->tp_name);
  return value.ptr() == Py_True;
}

// None, or a str.
std::optional<std::string> optional_string_argument(py::handle value, const char* name) {
  if (value.is_none()) return std::nullopt;
  if (!PyUnicode_Check(value.ptr()))
    throw py::type_error(std::string(name) + " must be a str or None, not " + Py_TYPE(value.ptr())->tp_name);
  return value.cast<std::string>();
}

size_t byte_count_argument(py::handle value, const char* name) {
  const int64_t n = index_argument(value, name, 0, INT64_MAX, "");
  return size_t(std::min<uint64_t>(uint64_t(n), SIZE_MAX));  // 32-bit boards: capped like any limit
}

int thread_argument(py::handle value) {
  return int(index_argument(value, "threads", 0, Session::kMaxThreads, " (0: all cores)"));
}

// A loaded model and a pool of sessions: concurrent run() calls from Python threads (the
// GIL is released while running) each take an idle session, or make one, so they proceed in
// parallel on one shared CompiledModel. The pool holds at most one session per core (more
// would only share the cores, each with its own memory and threads): further callers wait
// for one. All sessions draw on one MemoryBudget, so however many run at once they hold at
// most the model's limit together.
class NativeModel {
 public:
  NativeModel(std::shared_ptr<ModelFile> file, int threads, bool force_reference, size_t max_arena_bytes,
              const std::optional<std::string>& tvm_layers, Precision precision)
      : model_(std::make_shared<CompiledModel>(std::move(file), options(force_reference, tvm_layers, precision))),
        threads_(threads),
        max_sessions_(std::max(1, ThreadPool::hardware_threads())),
        budget_(std::make_shared<MemoryBudget>(
            max_arena_bytes ? std::min(max_arena_bytes, Session::kMaxArenaBytes) : Session::kMaxArenaBytes,
            [this] { reclaim_idle(); })) {
    idle_.push_back(new_session());
    sessions_ = 1;
  }

  // tvm_layers: the steps linked TVM kernels run ("", "all", op names); unset: ATTOCORE_TVM_LAYERS.
  static CompileOptions options(bool force_reference, const std::optional<std::string>& tvm_layers,
                                Precision precision) {
    CompileOptions o{force_reference, true};
    if (tvm_layers) o.tvm_layers = *tvm_layers;
    o.precision = precision;
    return o;
  }

  std::unique_ptr<Session> new_session() { return std::make_unique<Session>(model_, threads_, budget_); }

  // One output: its array; several: a tuple of arrays in graph output order.
  py::object run(py::handle x_obj, bool profile, py::list* timings_out) {
    py::array x = py::array::ensure(x_obj);
    if (!x) throw Error(ErrorCode::kInput, "input must be a numpy array");
    if (x.dtype().kind() != 'f' || x.dtype().itemsize() != 4)
      throw Error(ErrorCode::kInput, "input dtype must be float32, got " + std::string(py::str(x.dtype())));
    const auto expected = model_->input_shape(1);
    if (x.ndim() != 4 || x.shape(1) != expected[1] || x.shape(2) != expected[2] || x.shape(3) != expected[3]) {
      std::string got = "(";
      for (py::ssize_t i = 0; i < x.ndim(); ++i) got += (i ? ", " : "") + std::to_string(x.shape(i));
      throw Error(ErrorCode::kInput, "input shape must be (N, " + std::to_string(expected[1]) + ", " +
                                         std::to_string(expected[2]) + ", " + std::to_string(expected[3]) +
                                         "), got " + got + ")");
    }
    auto xc = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(x);
    const int batch = int(x.shape(0));
    if (batch < 1 || batch > Session::kMaxBatch) throw Error(ErrorCode::kInput, "batch size must be in [1, 4096]");
    std::vector<py::array_t<float>> outs;
    std::vector<float*> buffers;
    for (int i = 0; i < model_->output_count(); ++i) {
      auto out_shape = model_->output_shape_at(i, batch);
      outs.emplace_back(std::vector<py::ssize_t>(out_shape.begin(), out_shape.end()));
      buffers.push_back(outs.back().mutable_data());
    }
    std::vector<StepTiming> timings;
    {
      py::gil_scoped_release release;
      SessionLease lease(*this);
      lease.session->run(xc.data(), batch, buffers, profile ? &timings : nullptr);
    }
    if (timings_out)
      for (const auto& t : timings) timings_out->append(py::make_tuple(t.name, t.kernel, t.macs, t.seconds));
    if (outs.size() == 1) return std::move(outs[0]);
    py::tuple all(outs.size());
    for (size_t i = 0; i < outs.size(); ++i) all[i] = std::move(outs[i]);
    return std::move(all);
  }

  size_t arena_bytes(int batch) {
    py::gil_scoped_release release;
    SessionLease lease(*this);
    return lease.session->arena_bytes(batch);
  }

  size_t memory_bytes(int batch) {
    py::gil_scoped_release release;
    SessionLease lease(*this);
    return lease.session->memory_bytes(batch);
  }

  size_t memory_limit() const { return budget_->limit(); }
  size_t memory_in_use() const { return budget_->used(); }
  int sessions() {
    std::lock_guard<std::mutex> lock(mutex_);
    return sessions_;
  }

  int threads() {
    py::gil_scoped_release release;
    SessionLease lease(*this);
    return lease.session->threads();
  }
  std::string isa() const { return isa_name(model_->isa()); }
  std::string precision() const { return precision_name(model_->precision()); }
  int64_t macs() const { return model_->total_macs(); }

  py::list kernels() const {
    py::list out;
    for (const Step& s : model_->steps()) out.append(py::make_tuple(s.name, s.layer->kernel_name()));
    return out;
  }

 private:
  // Borrows an idle session for the duration of one call: makes one while the pool has
  // fewer than max_sessions_, else waits for one to come back.
  struct SessionLease {
    explicit SessionLease(NativeModel& m) : owner(m) {
      std::unique_lock<std::mutex> lock(owner.mutex_);
      owner.returned_.wait(lock, [&] { return !owner.idle_.empty() || owner.sessions_ < owner.max_sessions_; });
      if (!owner.idle_.empty()) {
        session = std::move(owner.idle_.back());
        owner.idle_.pop_back();
        return;
      }
      ++owner.sessions_;  // counted before it exists, so concurrent leases respect the bound
      lock.unlock();
      try {
        session = owner.new_session();
      } catch (...) {
        lock.lock();
        --owner.sessions_;
        owner.returned_.notify_one();
        throw;
      }
    }
    ~SessionLease() {
      {
        std::lock_guard<std::mutex> lock(owner.mutex_);
        owner.idle_.push_back(std::move(session));
      }
      owner.returned_.notify_one();
    }
    NativeModel& owner;
    std::unique_ptr<Session> session;
  };

  // The budget's callback for a session waiting for memory: idle sessions free their buffers
  // (the next run allocates them again).
  void reclaim_idle() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& s : idle_) s->release_memory();
  }

  std::shared_ptr<CompiledModel> model_;
  int threads_;
  const int max_sessions_;
  std::shared_ptr<MemoryBudget> budget_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Session>> idle_;
  int sessions_ = 0;  // idle and leased
};

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "attocore native executor";
  // attocore/errors.py holds the one table from status code to exception class (the cffi
  // binding raises through it too). The reference is never released: the translator below
  // outlives module init, and a py::object destroyed at exit, after the interpreter has
  // finalized, would free the function without the GIL.
  static PyObject* error_class =
      py::object(py::module_::import("attocore.errors").attr("error_class")).release().ptr();
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      py::object cls = py::reinterpret_borrow<py::function>(error_class)(int(e.code()));
      PyErr_SetString(cls.ptr(), e.what());
    }
  });

  py::class_<NativeModel>(m, "NativeModel")
      .def("run", [](NativeModel& self, py::handle x) { return self.run(x, false, nullptr); }, py::arg("x"))
      .def("run_profiled",
           [](NativeModel& self, py::handle x) {
             py::list timings;
             py::object out = self.run(x, true, &timings);
             return py::make_tuple(out, timings);
           },
           py::arg("x"))
      .def("arena_bytes", &NativeModel::arena_bytes, py::arg("batch") = 1)
      .def("memory_bytes", &NativeModel::memory_bytes, py::arg("batch") = 1)
      .def_property_readonly("memory_limit", &NativeModel::memory_limit)
      .def_property_readonly("memory_in_use", &NativeModel::memory_in_use)
      .def_property_readonly("sessions", &NativeModel::sessions)
      .def_property_readonly("threads", &NativeModel::threads)
      .def_property_readonly("isa", &NativeModel::isa)
      .def_property_readonly("precision", &NativeModel::precision)
      .def_property_readonly("macs", &NativeModel::macs)
      .def("kernels", &NativeModel::kernels);

  // max_arena_bytes: what all concurrent runs of the model may allocate together (0: the default).
  m.def("load_file", [](const std::string& path, py::handle threads, py::handle force_reference, py::handle max_arena,
                        py::handle tvm_layers, const std::string& precision) {
        if (path.find('\0') != std::string::npos) throw py::value_error("embedded null byte in the model path");
        const int n = thread_argument(threads);
        const size_t cap = byte_count_argument(max_arena, "max_arena_bytes");
        const bool reference = bool_argument(force_reference, "force_reference");
        const std::optional<std::string> layers = optional_string_argument(tvm_layers, "tvm_layers");
        const Precision p = parse_precision(precision);
        return std::make_unique<NativeModel>(ModelFile::open(path), n, reference, cap, layers, p);
      },
      py::arg("path"), py::arg("threads") = 0, py::arg("force_reference") = false, py::arg("max_arena_bytes") = 0,
      py::arg("tvm_layers") = py::none(), py::arg("precision") = "fp32");
  // Any contiguous buffer (bytes, or the private copy attocore.format.read_file returns),
  // parsed in place: the compiled model keeps only packed weights, so the buffer is read
  // only during this call, which holds it and the GIL (no other thread can change it). The
  // caller may drop or reuse it afterwards.
  m.def("load_bytes", [](py::handle data, py::handle threads, py::handle force_reference, py::handle max_arena,
                         py::handle tvm_layers, const std::string& precision) {
        const int n = thread_argument(threads);
        const size_t cap = byte_count_argument(max_arena, "max_arena_bytes");
        const bool reference = bool_argument(force_reference, "force_reference");
        const std::optional<std::string> layers = optional_string_argument(tvm_layers, "tvm_layers");
        const Precision p = parse_precision(precision);
        Py_buffer view;
        if (PyObject_GetBuffer(data.ptr(), &view, PyBUF_SIMPLE) != 0) {
          PyErr_Clear();
          throw py::type_error(std::string("data must be a bytes-like object, not ") + Py_TYPE(data.ptr())->tp_name);
        }
        struct Release {
          Py_buffer* view;
          ~Release() { PyBuffer_Release(view); }
        } release{&view};
        // Layers read the constants as floats while packing them.
        const bool aligned = reinterpret_cast<uintptr_t>(view.buf) % alignof(float) == 0;
        return std::make_unique<NativeModel>(aligned ? ModelFile::borrow(view.buf, size_t(view.len))
                                                     : ModelFile::from_memory(view.buf, size_t(view.len)),
                                             n, reference, cap, layers, p);
      },
      py::arg("data"), py::arg("threads") = 0, py::arg("force_reference") = false, py::arg("max_arena_bytes") = 0,
      py::arg("tvm_layers") = py::none(), py::arg("precision") = "fp32");
  m.attr("MAX_THREADS") = Session::kMaxThreads;
  m.def("op_macs", [](py::bytes data) {
        char* buffer = nullptr;
        Py_ssize_t size = 0;
        if (PyBytes_AsStringAndSize(data.ptr(), &buffer, &size) != 0) throw py::error_already_set();
        const std::shared_ptr<ModelFile> file = ModelFile::from_memory(buffer, size_t(size));
        std::vector<std::pair<std::string, int64_t>> macs;
        for (const OpInfo& op : file->graph().ops) macs.emplace_back(op.name, op_macs(file->graph(), op));
        return macs;
      },
      py::arg("data"), "(op name, multiply-adds at batch 1) for every op of a model file's bytes, in graph order");
  m.def("macs_of", [](const std::string& type, const std::vector<int64_t>& output, const std::vector<int64_t>& weight) {
        for (OpType t : {OpType::kConv2d, OpType::kFullyConnected})
          if (type == op_type_name(t)) return macs_of(t, output, weight);
        return int64_t(0);  // the other ops have no multiply-adds
      },
      py::arg("op_type"), py::arg("output_shape"), py::arg("weight_shape"),
      "multiply-adds at batch 1 of an op from its shapes (0 for ops without): the runtime's one formula");
  m.def("tvm_kernels", [] {
        std::vector<std::string> ops;
        for (const TvmKernelEntry& k : attocore::tvm_kernels()) ops.push_back(k.ops);
        return ops;
      },
      "the graph ops of each TVM kernel linked into this build (cmake -DATTOCORE_TVM_KERNELS)");
  m.def("hardware_threads", &ThreadPool::hardware_threads);
  m.def("isas", [] {
        std::vector<std::string> names;
        for (Isa isa : available_isas()) names.push_back(isa_name(isa));
        return names;
      },
      "the instruction sets this build can run on this CPU, reference first, best last");
  m.def("precision_support", [](const std::string& name) -> py::tuple {
        // fp32 always runs; fp16 and bf16 only where their kernels are built and the CPU has them.
        const Precision p = parse_precision(name);
        if (p == Precision::kFp32) return py::make_tuple(true, std::string("the fp32 kernels run everywhere"));
        if (p == Precision::kFp16) {
          const Fp16Support s = fp16_support();
          return py::make_tuple(s.available, s.reason);
        }
        const Bf16Support s = bf16_support();
        return py::make_tuple(s.available, s.reason);
      },
      "(available, reason): whether load(..., precision=name) can run here, and why or why not");
  m.def("isa", [](bool force_reference) { return std::string(isa_name(best_isa(force_reference))); },
        py::arg("force_reference") = false, "the instruction set the kernels will use");
  m.def("fma_peak_gmacs", [](double seconds) {
        py::gil_scoped_release release;
        return measure_fma_peak_gmacs(seconds);
      },
      py::arg("seconds") = 0.2, "one core's measured multiply-add peak, G multiply-adds/s");
}
