"""attocore.load() and the Model it returns: one graph, one backend."""
from __future__ import annotations

import numbers
import os

import numpy as np

from . import format as fmt
from . import zoo
from .errors import InputError, check_threads

BACKENDS = ("native", "numba", "tvm")


class Model:
    """A loaded network. `run(x)` takes float32 NCHW and returns the logits."""

    def __init__(self, graph, source: str, backend: str, native=None, threads: int = 0, tvm_options=None):
        self.graph = graph
        self.tvm_options = dict(tvm_options or {})
        self.source = source
        self.backend = backend
        self.threads = threads
        self._native = native
        self._executor = None

    # -- metadata -----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.graph.metadata.name

    @property
    def metadata(self):
        return self.graph.metadata

    @property
    def labels(self) -> tuple:
        return self.graph.metadata.labels

    @property
    def input_shape(self) -> tuple:
        return tuple(self.graph.metadata.input_shape)

    @property
    def trained(self) -> bool:
        return self.graph.metadata.extra.get("trained", "true") != "false"

    @property
    def isa(self) -> str:
        """Kernel set in use: 'avx2', 'neon' or 'ref' (other backends: their name)."""
        return self._native.isa if self._native is not None else self.backend

    def arena_bytes(self, batch: int = 1) -> int:
        """Peak activation memory of the native executor's static plan at this batch size."""
        if self._native is None:
            raise RuntimeError("arena_bytes() needs the native backend")
        return self._native.arena_bytes(batch)

    def memory_bytes(self, batch: int = 1) -> int:
        """Everything one native run at this batch size allocates (arena and every thread's
        scratch): what max_arena_mb is checked against."""
        if self._native is None:
            raise RuntimeError("memory_bytes() needs the native backend")
        return self._native.memory_bytes(batch)

    def __repr__(self):
        return f"Model({self.name!r}, backend={self.backend!r}, source={self.source!r})"

    # -- execution ----------------------------------------------------------------------
    def check_input(self, x) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            raise InputError(f"input must be a numpy array, got {type(x).__name__}")
        if x.dtype != np.float32:
            raise InputError(f"input dtype must be float32, got {x.dtype}")
        c, h, w = self.input_shape
        if x.ndim != 4 or x.shape[1:] != (c, h, w) or x.shape[0] < 1:
            raise InputError(f"input shape must be (N, {c}, {h}, {w}), got {x.shape}")
        # The native executor checks for NaN and infinity itself, in C++ (~10 us; numpy's
        # isfinite(x).all() took ~0.1 ms between runs): the other backends check here.
        if self.backend != "native" and not np.isfinite(x).all():
            raise InputError("input contains NaN or infinity")
        return np.ascontiguousarray(x)

    def run(self, x) -> np.ndarray:
        x = self.check_input(x)
        if self.backend == "native":
            return self._native.run(x)
        if self._executor is None:  # the Python-side executor of this backend, made on first use
            if self.backend == "tvm":
                from .tvm import TvmExecutor
                self._executor = TvmExecutor(self.graph, threads=self.threads, **self.tvm_options)
            else:
                from .numba_backend import NumbaExecutor
                self._executor = NumbaExecutor(self.graph)
        return self._executor.run(x)

    def profile(self, x):
        """Run once natively and return (logits, [(layer, kernel, macs, seconds), ...])."""
        if self._native is None:
            raise RuntimeError("profiling needs the native backend")
        return self._native.run_profiled(self.check_input(x))


def _native_module():
    try:
        from . import _core
    except ImportError as e:  # a source checkout without a build
        raise RuntimeError("the native extension attocore._core is not built; "
                           "install with 'pip install .' or use backend='numba'") from e
    return _core


def available_isas() -> list:
    """Kernel sets the native backend can use on this CPU, reference first, the default last
    ('ref', 'avx2', 'avx512' on x86; 'ref', 'neon' on ARM). ATTOCORE_ISA=NAME picks one of
    them for the models loaded after it is set (to compare or debug a path)."""
    return list(_native_module().isas())


def load(model, backend: str = "native", threads: int = 0, force_reference: bool = False,
         max_arena_mb: float = 0, tuned=None, target: str = "host", records=None) -> Model:
    """Load a weight file path, raw file bytes, or a zoo name ('attonet-a'..'attonet-d').

    Zoo names give deterministic seeded (untrained) weights. threads=0 uses every core.
    force_reference=True (or ATTOCORE_FORCE_REFERENCE=1) runs the portable reference
    kernels without fusion, for debugging; ATTOCORE_ISA=NAME (one of available_isas())
    picks a kernel set, ConfigError if this CPU lacks it. threads: an int in [0, 256]
    (TypeError / ValueError otherwise). max_arena_mb > 0 caps the memory the model's runs
    allocate (arena and scratch), all concurrent runs together: a run that could never fit
    raises ResourceLimitError, one that fits once others finish waits for them.

    backend="tvm": compiled by Apache TVM for `target` on first run. tuned=None applies
    MetaSchedule records when some exist for this net (`attocore tune`, or those shipped
    for AttoNet-D), True requires them, False compiles untuned; `records` is a root
    directory to look in first (default $ATTOCORE_TUNING_DIR, ./tuning, then the shipped).
    """
    if isinstance(model, Model):
        return model
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend '{backend}'; choose one of {BACKENDS}")
    threads = check_threads(threads)
    if isinstance(max_arena_mb, bool) or not isinstance(max_arena_mb, numbers.Real) or not 0 <= max_arena_mb < 2**40:
        raise ValueError(f"max_arena_mb must be a number in [0, 2^40), got {max_arena_mb!r:.40}")
    graph = None
    if isinstance(model, (bytes, bytearray)):
        data, source = bytes(model), "<bytes>"
    elif zoo.is_zoo_name(model) and not os.path.exists(str(model)):
        graph = zoo.seeded_graph(model)
        data, source = fmt.encode(graph), f"zoo:{zoo.spec(model).name}"
    else:
        path = os.fspath(model)
        if (b"\0" if isinstance(path, bytes) else "\0") in path:
            raise ValueError("embedded null byte in the model path")
        if not os.path.exists(path):
            raise FileNotFoundError(f"no such model file '{path}' (zoo names: {', '.join(zoo.NETS)})")
        data, source = None, path
    native = None
    if backend == "native":
        # The C++ loader validates first, so a malformed file gets the same error here as
        # from the C API and attocore-run; the Python reader then gives the metadata.
        core = _native_module()
        cap = int(max_arena_mb * 2**20)
        native = (core.load_bytes(data, threads, bool(force_reference), cap) if data is not None
                  else core.load_file(source, threads, bool(force_reference), cap))
    if graph is None:
        graph = fmt.decode(data) if data is not None else fmt.load(source)
    tvm_options = None
    if backend == "tvm":
        from .tvm import TvmExecutor
        tvm_options = {"tuned": tuned, "target_name": target, "records_root": records}
        TvmExecutor.check_options(graph, **tvm_options)  # a missing record set fails here, not at run
    return Model(graph, source, backend, native, threads, tvm_options)
