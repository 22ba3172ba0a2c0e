// attocore._core: the native executor for Python. Errors become the classes attocore/errors.py
// maps their codes to; the GIL is released while a model runs.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <mutex>

#include "exec/executor.h"
#include "kernels/dispatch/kernel_table.h"
#include "kernels/peak/peak.h"
#include "plan/op_macs.h"
#include "util/error.h"

namespace py = pybind11;
using namespace attocore;

namespace {

// A loaded model and a pool of sessions: concurrent run() calls from Python threads (the
// GIL is released while running) each take a free session, or make one, so they proceed in
// parallel on one shared CompiledModel.
class NativeModel {
 public:
  NativeModel(std::shared_ptr<ModelFile> file, int threads, bool force_reference, size_t max_arena_bytes)
      : model_(std::make_shared<CompiledModel>(std::move(file), CompileOptions{force_reference, true})),
        threads_(threads),
        max_arena_bytes_(max_arena_bytes) {
    idle_.push_back(new_session());
  }

  std::unique_ptr<Session> new_session() {
    auto s = std::make_unique<Session>(model_, threads_);
    if (max_arena_bytes_) s->set_max_arena_bytes(max_arena_bytes_);
    return s;
  }

  py::array_t<float> run(py::handle x_obj, bool profile, py::list* timings_out) {
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
    auto out_shape = model_->output_shape(batch);
    py::array_t<float> out(std::vector<py::ssize_t>(out_shape.begin(), out_shape.end()));
    std::vector<StepTiming> timings;
    {
      py::gil_scoped_release release;
      SessionLease lease(*this);
      lease.session->run(xc.data(), batch, out.mutable_data(), profile ? &timings : nullptr);
    }
    if (timings_out)
      for (const auto& t : timings) timings_out->append(py::make_tuple(t.name, t.kernel, t.macs, t.seconds));
    return out;
  }

  size_t arena_bytes(int batch) {
    SessionLease lease(*this);
    return lease.session->arena_bytes(batch);
  }

  int threads() {
    SessionLease lease(*this);
    return lease.session->threads();
  }
  std::string isa() const { return isa_name(model_->isa()); }
  int64_t macs() const { return model_->total_macs(); }

  py::list kernels() const {
    py::list out;
    for (const Step& s : model_->steps()) out.append(py::make_tuple(s.name, s.layer->kernel_name()));
    return out;
  }

 private:
  // Borrows an idle session for the duration of one call (makes one if none is idle).
  struct SessionLease {
    explicit SessionLease(NativeModel& m) : owner(m) {
      std::lock_guard<std::mutex> lock(owner.mutex_);
      if (!owner.idle_.empty()) {
        session = std::move(owner.idle_.back());
        owner.idle_.pop_back();
      }
      if (!session) session = owner.new_session();
    }
    ~SessionLease() {
      std::lock_guard<std::mutex> lock(owner.mutex_);
      owner.idle_.push_back(std::move(session));
    }
    NativeModel& owner;
    std::unique_ptr<Session> session;
  };

  std::shared_ptr<CompiledModel> model_;
  int threads_;
  size_t max_arena_bytes_;  // 0: the default limit
  std::mutex mutex_;
  std::vector<std::unique_ptr<Session>> idle_;
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
             py::array_t<float> out = self.run(x, true, &timings);
             return py::make_tuple(out, timings);
           },
           py::arg("x"))
      .def("arena_bytes", &NativeModel::arena_bytes, py::arg("batch") = 1)
      .def_property_readonly("threads", &NativeModel::threads)
      .def_property_readonly("isa", &NativeModel::isa)
      .def_property_readonly("macs", &NativeModel::macs)
      .def("kernels", &NativeModel::kernels);

  m.def("load_file", [](const std::string& path, int threads, bool force_reference, size_t max_arena_bytes) {
        return std::make_unique<NativeModel>(ModelFile::open(path), threads, force_reference, max_arena_bytes);
      },
      py::arg("path"), py::arg("threads") = 0, py::arg("force_reference") = false, py::arg("max_arena_bytes") = 0);
  // Any contiguous buffer (bytes, or the private copy attocore.format.read_file returns),
  // parsed in place: the compiled model keeps only packed weights, so the buffer is read
  // only during this call, which holds it and the GIL (no other thread can change it). The
  // caller may drop or reuse it afterwards.
  m.def("load_bytes", [](py::buffer data, int threads, bool force_reference, size_t max_arena_bytes) {
        Py_buffer view;
        if (PyObject_GetBuffer(data.ptr(), &view, PyBUF_SIMPLE) != 0) throw py::error_already_set();
        struct Release {
          Py_buffer* view;
          ~Release() { PyBuffer_Release(view); }
        } release{&view};
        // Layers read the constants as floats while packing them.
        const bool aligned = reinterpret_cast<uintptr_t>(view.buf) % alignof(float) == 0;
        return std::make_unique<NativeModel>(aligned ? ModelFile::borrow(view.buf, size_t(view.len))
                                                     : ModelFile::from_memory(view.buf, size_t(view.len)),
                                             threads, force_reference, max_arena_bytes);
      },
      py::arg("data"), py::arg("threads") = 0, py::arg("force_reference") = false, py::arg("max_arena_bytes") = 0);
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
  m.def("hardware_threads", &ThreadPool::hardware_threads);
  m.def("isas", [] {
        std::vector<std::string> names;
        for (Isa isa : available_isas()) names.push_back(isa_name(isa));
        return names;
      },
      "the instruction sets this build can run on this CPU, reference first, best last");
  m.def("isa", [](bool force_reference) { return std::string(isa_name(best_isa(force_reference))); },
        py::arg("force_reference") = false, "the instruction set the kernels will use");
  m.def("fma_peak_gmacs", [](double seconds) {
        py::gil_scoped_release release;
        return measure_fma_peak_gmacs(seconds);
      },
      py::arg("seconds") = 0.2, "one core's measured multiply-add peak, G multiply-adds/s");
}
