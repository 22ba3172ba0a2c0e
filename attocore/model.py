"""attocore.load() and the Model it returns: one graph, one backend."""
from __future__ import annotations

import numbers
import os

import numpy as np

from . import format as fmt
from . import zoo
from .backends import Backend, native
from .errors import FormatError, InputError, UnsupportedOpError, check_threads

BACKENDS = ("native", "numba", "tvm")


class Model:
    """A loaded network. `run(x)` takes float32 NCHW and returns the logits.

    `executor` is the Backend that runs it (attocore.backends); the methods below that need a
    capability it lacks raise NotImplementedError."""

    def __init__(self, graph, source: str, executor: Backend):
        self.graph = graph
        self.source = source
        self.executor = executor

    @property
    def backend(self) -> str:
        """'native', 'numba' or 'tvm': what load(backend=...) was given."""
        return self.executor.kind

    # -- metadata -----------------------------------------------------------------------
    @property
    def precision(self) -> str:
        """"int8" when the model has int8 tensors (attocore.quantize), else the float layers'
        arithmetic: "fp16" when loaded with precision="fp16", "fp32" otherwise."""
        if any(t.dtype == "int8" for t in self.graph.tensors.values()):
            return "int8"
        return getattr(self.executor, "precision", "fp32")

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
        """Kernel set in use: 'avx512', 'avx2', 'neon' or 'ref' (other backends: their name)."""
        return self.executor.isa

    @property
    def threads(self) -> int:
        """Threads a run uses (load's threads=0 resolved to the cores used)."""
        return self.executor.threads

    @property
    def macs(self) -> int:
        """Multiply-adds of one sample."""
        return self.executor.macs

    def arena_bytes(self, batch: int = 1) -> int:
        """Peak activation memory of the native executor's static plan at this batch size."""
        return self.executor.arena_bytes(batch)

    def memory_bytes(self, batch: int = 1) -> int:
        """Everything one native run at this batch size allocates (arena and every thread's
        scratch): what max_arena_mb is checked against."""
        return self.executor.memory_bytes(batch)

    def __repr__(self):
        return f"Model({self.name!r}, backend={self.backend!r}, source={self.source!r})"

    # -- execution ----------------------------------------------------------------------
    @property
    def takes_features(self) -> bool:
        """True for an MLP-style model whose input is [N, features] (an ONNX graph with a 2-D
        input); run() then takes (N, F), which the executor sees as (N, F, 1, 1)."""
        _, h, w = self.input_shape
        return self.graph.metadata.extra.get("input_rank") == "2" and h == w == 1

    def check_input(self, x) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            raise InputError(f"input must be a numpy array, got {type(x).__name__}")
        if x.dtype != np.float32:
            raise InputError(f"input dtype must be float32, got {x.dtype}")
        c, h, w = self.input_shape
        if self.takes_features:
            if x.ndim != 2 or x.shape[1] != c or x.shape[0] < 1:
                raise InputError(f"input shape must be (N, {c}) with N >= 1 (N vectors of {c} features), "
                                 f"got {x.shape}")
            x = x.reshape(x.shape[0], c, 1, 1)
        if x.ndim != 4 or x.shape[1:] != (c, h, w):
            raise InputError(f"input shape must be (N, {c}, {h}, {w}) with N >= 1, got {x.shape}")
        if x.shape[0] < 1:
            raise InputError(f"an empty batch: input shape must be (N, {c}, {h}, {w}) with N >= 1, got {x.shape}")
        # The native executor checks for NaN and infinity itself, in C++ (~10 us; numpy's
        # isfinite(x).all() took ~0.1 ms between runs): the other backends check here.
        if not self.executor.checks_finite and not np.isfinite(x).all():
            raise InputError("input contains NaN or infinity")
        return np.ascontiguousarray(x)

    def run(self, x) -> np.ndarray:
        return self.executor.run(self.check_input(x))

    def preprocess(self, image) -> np.ndarray:
        """The float32 (1, C, H, W) tensor `run` takes, from an image (a path, a PIL image or an
        HxWx3 uint8 array), prepared by this model's metadata (resize, centre crop, mean/std)
        exactly as attocore.run does: to feed the same input to another framework."""
        from .preprocess import preprocess
        if self.takes_features:
            raise InputError(f"this model takes vectors of {self.input_shape[0]} features, not images: pass a "
                             f"float32 (N, {self.input_shape[0]}) array to run()")
        return preprocess(image, self.metadata)

    def profile(self, x):
        """Run once natively and return (logits, [StepTiming(layer, kernel, macs, seconds), ...])."""
        return self.executor.profile(self.check_input(x))


def available_isas() -> list:
    """Kernel sets the native backend can use on this CPU, reference first, the default last
    ('ref', 'avx2', 'avx512' on x86; 'ref', 'neon' on ARM). ATTOCORE_ISA=NAME picks one of
    them for the models loaded after it is set (to compare or debug a path)."""
    return native.available_isas()


PRECISIONS = ("fp32", "fp16")


def load(model, backend: str = "native", threads: int = 0, force_reference: bool = False,
         max_arena_mb: float = 0, tuned=None, target: str = "host", records=None, plan=None,
         precision: str = "fp32") -> Model:
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
    directory to look in first (default $ATTOCORE_TUNING_DIR, ./tuning, then the shipped);
    without records of its own CPU it uses those of a CPU of a compatible instruction set, and
    compiling prints to stderr which records it uses or that it runs untuned.

    plan: a plan file from `attocore tune-plan` (native backend): its steps marked "tvm" run
    on the TVM kernels linked into this build (-DATTOCORE_TVM_KERNELS; UnsupportedOpError if
    none are), the others on the hand-written ones; profile() shows which ran. PlanError
    for a malformed plan or one for another model.

    precision="fp16" (native backend): weights packed as binary16 and fp16 arithmetic in the
    GEMM kernels (1x1 and im2col convolutions, fully connected layers, the fused steps'
    GEMMs), the other kernels fp32 (README, "Precision": error bound). Only on ARMv8.2 cores
    with FEAT_FP16 (Cortex-A55/A75/A76 and later): elsewhere (x86, ARMv7, Cortex-A53/A72)
    ConfigError, naming the missing feature; never a silent fp32 fallback. An int8 model's
    int8 layers are unaffected. ValueError for any other value.
    """
    if isinstance(model, Model):
        return model
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend '{backend}'; choose one of {BACKENDS}")
    threads = check_threads(threads)
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r:.40}; choose one of {PRECISIONS}")
    if precision != "fp32" and backend != "native":
        raise ValueError(f"precision={precision!r} is a native backend option, not backend='{backend}'")
    if isinstance(max_arena_mb, bool) or not isinstance(max_arena_mb, numbers.Real) or not 0 <= max_arena_mb < 2**40:
        raise ValueError(f"max_arena_mb must be a number in [0, 2^40), got {max_arena_mb!r:.40}")
    kernel_plan = None
    if plan is not None:
        if backend != "native":
            raise ValueError(f"plan= chooses kernels of the native backend, not backend='{backend}'")
        from .backends.tvm.plan import read_plan  # the file format only: no TVM
        kernel_plan = read_plan(plan)
    graph, data, source, reread = _locate(model)
    executor = None
    if backend == "native":
        # The C++ loader validates first, so a malformed file gets the same error here as
        # from the C API and attocore-run; the Python reader then gives the metadata. The
        # weights stay only in the executor, packed: the graph's constants are fetched again
        # (from the file, unchanged, or the zoo) if something asks for their data.
        cap = int(max_arena_mb * 2**20)
        layers = None if kernel_plan is None else kernel_plan.tvm_layers or "none"
        executor = native.NativeBackend(data, threads, bool(force_reference), cap, layers, precision)
        generated = graph is not None
        graph = fmt.decode(data, deferred=_DeferredWeights(reread))
        if kernel_plan is not None:
            kernel_plan.check_model(graph.metadata.name, plan)
        data = None
        if generated:
            _return_freed_heap()
    elif graph is None:
        graph = fmt.decode(data)
    if backend != "native" and any(t.dtype != "float32" for t in graph.tensors.values()):
        raise UnsupportedOpError(f"model '{graph.metadata.name}' is int8: backend='{backend}' runs float32 models "
                                 f"only (int8 runs on the native backend)")
    if backend == "numba":
        from .backends.numba import NumbaBackend  # imports numba, which the other backends do not need
        executor = NumbaBackend(graph)
    elif backend == "tvm":
        from .backends.tvm.backend import TvmBackend
        # A missing record set (tuned=True) or a cross-compilation target fails here, not at run.
        executor = TvmBackend(graph, target_name=target, threads=threads, tuned=tuned, records_root=records)
    return Model(graph, source, executor)


def read_graph(model):
    """The validated graph of a zoo name, weight file path or the file's bytes (or a Model's),
    without loading any backend: for summaries, tuning and export."""
    if isinstance(model, Model):
        return model.graph
    graph, data, _, _ = _locate(model)
    return graph if graph is not None else fmt.decode(data)


def _locate(model):
    """(graph or None, file bytes, source label, re-reader of the weights or None): a zoo net
    is built (and encoded, so the native loader reads the same bytes as from a file), bytes
    are kept, a file is read once into private memory that serves both readers."""
    graph, reread = None, None
    if isinstance(model, (bytes, bytearray)):
        data, source = bytes(model), "<bytes>"
    elif zoo.is_zoo_name(model) and not os.path.exists(str(model)):
        graph = zoo.seeded_graph(model)
        data, source = fmt.encode(graph), f"zoo:{zoo.spec(model).name}"
        reread = lambda name=str(model): zoo.seeded_graph(name)  # deterministic: the same weights
    else:
        path = os.fspath(model)
        if (b"\0" if isinstance(path, bytes) else "\0") in path:
            raise ValueError("embedded null byte in the model path")
        if not os.path.exists(path):
            raise FileNotFoundError(f"no such model file '{path}' (zoo names: {', '.join(zoo.NETS)})")
        data, source = fmt.read_file(path), path
        reread = _reread_unchanged(path, data)
    return graph, data, source, reread


class _DeferredWeights:
    """The constants of a native model's graph, fetched all at once on first use and then kept
    (graph.DeferredConstant calls this with a tensor name)."""

    def __init__(self, reread):
        self._reread, self._arrays = reread, None

    def __call__(self, name: str):
        if self._arrays is None:
            if self._reread is None:
                raise RuntimeError(f"the weights of a model loaded from bytes on the native backend are not kept on "
                                   f"the Python side (they live packed in the executor); decode the bytes with "
                                   f"attocore.format.decode, or load them with backend='numba'")
            graph = self._reread()
            self._arrays = {n: t.data for n, t in graph.tensors.items() if t.is_constant}
        return self._arrays[name]


def _return_freed_heap() -> None:
    """Gives the heap a zoo net's generation freed back to the system (glibc only).

    Its weight arrays (each under a megabyte, below glibc's mmap threshold once bigger blocks
    were freed) sit in the heap between live objects, and glibc returns heap to the system
    only from its top: without this, loading AttoNet-A by name kept ~11 MiB of freed heap
    resident, the weights' size again.
    """
    import ctypes
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):  # not glibc
        return
    trim(0)


def _reread_unchanged(path: str, loaded):
    """Reads the file again for its weights, refusing it if it changed since `loaded` was read."""
    def checksum_field(data) -> bytes:
        return bytes(data[fmt.CRC_OFFSET:fmt.CRC_OFFSET + 4])
    crc = checksum_field(loaded)

    def reread():
        data = fmt.read_file(path)
        if checksum_field(data) != crc:
            raise FormatError(f"'{path}' changed since the model was loaded; its weights cannot be read from it again")
        return fmt.decode(data)  # checks the whole file against that checksum
    return reread
