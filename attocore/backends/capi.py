"""attocore.capi: the C API (libattocore.so) through cffi in ABI mode.

Needs no compiler and no pybind11 module: on a board, the pure-Python package plus a
cross-built libattocore.so is enough.

    from attocore import capi
    model = capi.load("d.atto", threads=2)      # library: $ATTOCORE_LIBRARY, the package dir, or the system
    logits = model.run(x)                       # float32 NCHW -> (N, classes)

A model with several graph outputs returns a tuple of arrays from run(), in graph output order
(attocore_session_run_outputs); output_names and output_shapes list them. Its input size is
fixed: the file's H x W (the C API does not re-plan for another size; attocore.Model does).

Errors raise the same exception classes as the rest of attocore. A CModel may be shared by
threads: its one C session runs one call at a time, behind a lock (the C API's sessions are
single-threaded; a lock measured cheaper than a session per thread, see README).
"""
from __future__ import annotations

import ctypes.util
import os
import threading

import numpy as np

from ..errors import InputError, check_threads, error_class
from .base import Backend
from .native import PRECISIONS

CDEF = """
typedef enum attocore_status {
  ATTOCORE_OK = 0, ATTOCORE_ERROR_IO = 1, ATTOCORE_ERROR_FORMAT = 2, ATTOCORE_ERROR_GRAPH = 3,
  ATTOCORE_ERROR_UNSUPPORTED = 4, ATTOCORE_ERROR_INPUT = 5, ATTOCORE_ERROR_RESOURCE = 6,
  ATTOCORE_ERROR_INTERNAL = 7, ATTOCORE_ERROR_ARGUMENT = 8, ATTOCORE_ERROR_CONFIG = 9
} attocore_status;
typedef struct attocore_model attocore_model;
typedef struct attocore_session attocore_session;
typedef struct attocore_session_options { int threads; size_t max_arena_bytes; } attocore_session_options;
const char* attocore_version(void);
const char* attocore_last_error(void);
const char* attocore_isa(void);
attocore_status attocore_model_load_file(const char* path, attocore_model** model);
attocore_status attocore_model_load_memory(const void* data, size_t size, attocore_model** model);
void attocore_model_free(attocore_model* model);
typedef struct attocore_model_options { const char* precision; } attocore_model_options;
void attocore_model_options_init(attocore_model_options* options);
attocore_status attocore_model_load_file_with_options(const char* path, const attocore_model_options* options,
                                                      attocore_model** model);
attocore_status attocore_model_load_memory_with_options(const void* data, size_t size,
                                                        const attocore_model_options* options, attocore_model** model);
const char* attocore_model_precision(const attocore_model* model);
attocore_status attocore_model_input_shape(const attocore_model* model, int64_t dims[4]);
attocore_status attocore_model_output_shape(const attocore_model* model, int64_t dims[6], int* ndim);
int attocore_model_num_outputs(const attocore_model* model);
const char* attocore_model_output_name(const attocore_model* model, int index);
attocore_status attocore_model_output_shape_at(const attocore_model* model, int index, int64_t dims[6], int* ndim);
const char* attocore_model_name(const attocore_model* model);
int attocore_model_num_labels(const attocore_model* model);
const char* attocore_model_label(const attocore_model* model, int index);
void attocore_session_options_init(attocore_session_options* options);
attocore_status attocore_session_create(const attocore_model* model, const attocore_session_options* options,
                                        attocore_session** session);
void attocore_session_free(attocore_session* session);
attocore_status attocore_session_run_checked(attocore_session* session, const float* input, size_t input_count,
                                             int batch, float* output, size_t output_capacity);
attocore_status attocore_session_run_outputs(attocore_session* session, const float* input, size_t input_count,
                                             int batch, float* const* outputs, const size_t* output_capacities,
                                             int num_outputs);
attocore_status attocore_session_arena_bytes(attocore_session* session, int batch, size_t* bytes);
attocore_status attocore_session_memory_bytes(attocore_session* session, int batch, size_t* bytes);
"""

_ffi = None
_lib = None


def library_path() -> str:
    """Where libattocore is taken from: $ATTOCORE_LIBRARY, the attocore package's directory
    (where the wheel installs it), or the system."""
    env = os.environ.get("ATTOCORE_LIBRARY")
    if env:
        return env
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "libattocore.so")
    if os.path.exists(here):
        return here
    found = ctypes.util.find_library("attocore")
    if found:
        return found
    raise OSError("libattocore.so not found: set ATTOCORE_LIBRARY to its path")


def lib():
    global _ffi, _lib
    if _lib is None:
        import cffi
        ffi = cffi.FFI()
        ffi.cdef(CDEF)
        _lib = ffi.dlopen(library_path())
        _ffi = ffi
    return _lib


def ffi():
    """The cffi FFI object lib() was opened with (for calling the C API directly: new
    structures, casts)."""
    lib()
    return _ffi


def _check(status: int) -> None:
    if status != 0:
        message = _ffi.string(_lib.attocore_last_error()).decode("utf-8", "replace")
        raise error_class(status)(message)


class CModel(Backend):
    """A model and one session, through the C API; safe to share between threads."""
    kind = "capi"
    checks_finite = True

    def __init__(self, model_ptr, threads: int, max_arena_bytes: int = 0):
        l = lib()
        # cffi releases the GIL during each C call, and a C session must not run two calls at once.
        self._lock = threading.Lock()
        self._model = _ffi.gc(model_ptr, l.attocore_model_free)
        opts = _ffi.new("attocore_session_options*")
        l.attocore_session_options_init(opts)
        opts.threads = threads
        opts.max_arena_bytes = min(max_arena_bytes, (1 << 8 * _ffi.sizeof("size_t")) - 1)  # the C side caps it
        sess = _ffi.new("attocore_session**")
        _check(l.attocore_session_create(self._model, opts, sess))
        # The session holds its own reference to the model's data, so freeing order is free.
        self._session = _ffi.gc(sess[0], l.attocore_session_free)
        dims = _ffi.new("int64_t[4]")
        _check(l.attocore_model_input_shape(self._model, dims))
        self.input_shape = tuple(int(d) for d in dims)[1:]
        shapes, names = [], []
        for k in range(l.attocore_model_num_outputs(self._model)):
            odims, ndim = _ffi.new("int64_t[6]"), _ffi.new("int*")
            _check(l.attocore_model_output_shape_at(self._model, k, odims, ndim))
            shapes.append(tuple(int(odims[i]) for i in range(1, ndim[0])))
            names.append(_ffi.string(l.attocore_model_output_name(self._model, k)).decode())
        self.output_shapes = tuple(shapes)  # per sample (without N), in graph output order
        self.output_names = tuple(names)
        self.output_shape = shapes[0]  # the first output's
        self.name = _ffi.string(l.attocore_model_name(self._model)).decode()
        self.labels = tuple(_ffi.string(l.attocore_model_label(self._model, i)).decode()
                            for i in range(l.attocore_model_num_labels(self._model)))

    def run(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype != np.float32:
            raise InputError(f"input dtype must be float32, got {x.dtype}")
        if x.ndim != 4 or x.shape[1:] != self.input_shape:
            raise InputError(f"input shape must be (N, {', '.join(map(str, self.input_shape))}), got {x.shape}")
        if not 1 <= x.shape[0] <= 4096:
            raise InputError(f"batch size must be in [1, 4096], got {x.shape[0]}")
        x = np.ascontiguousarray(x)
        outs = [np.empty((x.shape[0],) + shape, np.float32) for shape in self.output_shapes]
        x_ptr = _ffi.cast("const float*", x.ctypes.data)
        with self._lock:
            if len(outs) == 1:
                status = _lib.attocore_session_run_checked(self._session, x_ptr, x.size, x.shape[0],
                                                           _ffi.cast("float*", outs[0].ctypes.data), outs[0].size)
            else:
                ptrs = _ffi.new("float*[]", [_ffi.cast("float*", o.ctypes.data) for o in outs])
                caps = _ffi.new("size_t[]", [o.size for o in outs])
                status = _lib.attocore_session_run_outputs(self._session, x_ptr, x.size, x.shape[0], ptrs, caps,
                                                           len(outs))
        _check(status)  # the message is the calling thread's own
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _size_query(self, fn, batch) -> int:
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 4096:
            raise InputError(f"batch must be an int in [1, 4096], got {batch!r:.40}")
        out = _ffi.new("size_t*")
        with self._lock:
            status = fn(self._session, batch, out)
        _check(status)
        return int(out[0])

    @property
    def isa(self) -> str:
        return isa()

    @property
    def precision(self) -> str:
        return _ffi.string(lib().attocore_model_precision(self._model)).decode()

    def arena_bytes(self, batch: int = 1) -> int:
        return self._size_query(_lib.attocore_session_arena_bytes, batch)

    def memory_bytes(self, batch: int = 1) -> int:
        """Everything a run at this batch allocates: what max_arena_bytes is checked against."""
        return self._size_query(_lib.attocore_session_memory_bytes, batch)


def load(model, threads: int = 0, max_arena_bytes: int = 0, precision: str = "fp32") -> CModel:
    """Load a weight file path or its bytes through the C API. threads: an int in [0, 256]
    (0: all cores); max_arena_bytes > 0 caps what a run allocates (ResourceLimitError beyond);
    precision "fp32", "fp16" or "bf16" (attocore.load's; ConfigError without FEAT_FP16 /
    AVX512-BF16)."""
    threads = check_threads(threads)
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r:.40}; choose one of {PRECISIONS}")
    if isinstance(max_arena_bytes, bool) or not isinstance(max_arena_bytes, int) or max_arena_bytes < 0:
        raise ValueError(f"max_arena_bytes must be an int >= 0, got {max_arena_bytes!r:.40}")
    l = lib()
    ptr = _ffi.new("attocore_model**")
    opts = _ffi.new("attocore_model_options*")
    l.attocore_model_options_init(opts)
    precision_c = _ffi.new("char[]", precision.encode())  # kept alive through the load call
    opts.precision = precision_c
    if isinstance(model, (bytes, bytearray)):
        _check(l.attocore_model_load_memory_with_options(bytes(model), len(model), opts, ptr))
    else:
        path = os.fsencode(model)
        if b"\0" in path:  # a C string would end there: another file would be opened
            raise ValueError("embedded null byte in the model path")
        _check(l.attocore_model_load_file_with_options(path, opts, ptr))
    return CModel(ptr[0], threads, max_arena_bytes)


def isa() -> str:
    return _ffi.string(lib().attocore_isa()).decode() if lib() else ""


def version() -> str:
    """The library's version (attocore_version()); the same as attocore.__version__."""
    version_ptr = lib().attocore_version()  # lib() first: it makes _ffi
    return _ffi.string(version_ptr).decode()
