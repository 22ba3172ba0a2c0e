"""attocore.load() and the Model it returns: one graph, one backend."""
from __future__ import annotations

import collections
import numbers
import os
import threading

import numpy as np

from . import format as fmt
from . import zoo
from .backends import Backend, native
from .errors import FormatError, GraphError, InputError, ResourceLimitError, UnsupportedOpError, check_threads
from .graph import Graph, Metadata, Tensor, infer_output_shape, validate

BACKENDS = ("native", "numba", "tvm")


class Model:
    """A loaded network. `run(x)` takes float32 NCHW and returns the logits (a tuple of arrays,
    in graph output order, for a model with several outputs).

    `executor` is the Backend that runs it (attocore.backends); the methods below that need a
    capability it lacks raise NotImplementedError. `rebuild(graph)`, when given, makes a
    backend of the same kind and options for a graph re-planned for another input size."""

    SIZE_CACHE = 4  # re-planned input sizes kept (least recently used dropped first)

    def __init__(self, graph, source: str, executor: Backend, rebuild=None):
        self.graph = graph
        self.source = source
        self.executor = executor
        self._rebuild = rebuild
        self._sized = collections.OrderedDict()  # (H, W) -> Backend, most recently used last
        self._sized_lock = threading.Lock()

    @property
    def backend(self) -> str:
        """'native', 'numba' or 'tvm': what load(backend=...) was given."""
        return self.executor.kind

    # -- metadata -----------------------------------------------------------------------
    @property
    def precision(self) -> str:
        """"int8" when the model has int8 tensors (attocore.quantize), else the float layers'
        arithmetic: "fp16" / "bf16" when loaded with that precision, "fp32" otherwise."""
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
    def output_names(self) -> tuple:
        """The graph outputs' tensor names, in the order run() returns them."""
        return tuple(self.graph.outputs)

    @property
    def output_shapes(self) -> tuple:
        """Each output's shape per sample (without the batch dimension; 4-D maps as C, H, W),
        at the file's input size."""
        return tuple(tuple(self.graph.tensors[n].shape[1:]) for n in self.graph.outputs)

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

    @property
    def takes_sequences(self) -> bool:
        """True for a model whose input is [N, C, L] (an ONNX graph with a 3-D input); run()
        then takes (N, C, L), which the executor sees as (N, C, 1, L)."""
        _, h, _ = self.input_shape
        return self.graph.metadata.extra.get("input_rank") == "3" and h == 1

    @property
    def sample_shape(self) -> tuple:
        """One input sample's shape as run() takes it (after the batch): (F,), (C, L) or (C, H, W)."""
        c, h, w = self.input_shape
        return (c,) if self.takes_features else (c, w) if self.takes_sequences else (c, h, w)

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
        elif self.takes_sequences:
            if x.ndim != 3 or x.shape[1:] != (c, w) or x.shape[0] < 1:
                raise InputError(f"input shape must be (N, {c}, {w}) with N >= 1, got {x.shape}")
            x = x.reshape(x.shape[0], c, 1, w)
        if x.ndim != 4 or x.shape[1:] != (c, h, w):
            raise InputError(f"input shape must be (N, {c}, {h}, {w}) with N >= 1, got {x.shape}")
        if x.shape[0] < 1:
            raise InputError(f"an empty batch: input shape must be (N, {c}, {h}, {w}) with N >= 1, got {x.shape}")
        # The native executor checks for NaN and infinity itself, in C++ (~10 us; numpy's
        # isfinite(x).all() took ~0.1 ms between runs): the other backends check here.
        if not self.executor.checks_finite and not np.isfinite(x).all():
            raise InputError("input contains NaN or infinity")
        return np.ascontiguousarray(x)

    def run(self, x):
        """Logits (N, classes), or the one output's array; a tuple of arrays for several outputs.

        An NCHW input whose H, W differ from the file's runs on the graph re-planned for that
        size (shapes inferred again, a backend built for it; the last SIZE_CACHE sizes are
        kept), when the graph can take it: InputError naming the op otherwise (a fully
        connected layer whose input size changes, an output that would be empty)."""
        c, h, w = self.input_shape
        if (isinstance(x, np.ndarray) and x.dtype == np.float32 and x.ndim == 4 and not self.takes_features
                and not self.takes_sequences
                and x.shape[1] == c and x.shape[0] >= 1 and x.shape[2:] != (h, w)):
            executor = self.sized_executor(int(x.shape[2]), int(x.shape[3]))
            if not executor.checks_finite and not np.isfinite(x).all():
                raise InputError("input contains NaN or infinity")
            executor, x = executor, np.ascontiguousarray(x)
        else:
            executor, x = self.executor, self.check_input(x)
        try:
            return executor.run(x)
        except MemoryError as e:  # the outputs' arrays (or numba's tensors): a limit, said as one
            raise ResourceLimitError(f"model '{self.name}' at batch {x.shape[0]}: its tensors do not fit in "
                                     f"memory ({e})") from e

    def sized_executor(self, height: int, width: int) -> Backend:
        """The backend for inputs of height x width (the model's own for its file's size):
        built on first use from the re-planned graph (resized_graph), then cached."""
        if (height, width) == self.input_shape[1:]:
            return self.executor
        key = (height, width)
        with self._sized_lock:  # one build per size, however many threads ask at once
            executor = self._sized.get(key)
            if executor is not None:
                self._sized.move_to_end(key)
                return executor
            if self._rebuild is None:
                raise InputError(f"model '{self.name}' runs at its file's input size {self.input_shape} only "
                                 f"(this Model was built without a way to re-plan)")
            executor = self._rebuild(resized_graph(self.graph, height, width))
            self._sized[key] = executor
            while len(self._sized) > self.SIZE_CACHE:
                self._sized.popitem(last=False)
            return executor

    def cached_sizes(self) -> list:
        """The re-planned input sizes (H, W) currently cached, least recently used first."""
        with self._sized_lock:
            return list(self._sized)

    def preprocess(self, image) -> np.ndarray:
        """The float32 (1, C, H, W) tensor `run` takes, from an image (a path, a PIL image or an
        HxWx3 uint8 array), prepared by this model's metadata (resize, centre crop, mean/std)
        exactly as attocore.run does: to feed the same input to another framework."""
        from .preprocess import preprocess
        if self.takes_features or self.takes_sequences:
            raise InputError(f"this model takes {'vectors' if self.takes_features else 'sequences'} of shape "
                             f"{self.sample_shape}, not images: pass a float32 (N, "
                             f"{', '.join(map(str, self.sample_shape))}) array to run()")
        return preprocess(image, self.metadata)

    def profile(self, x):
        """Run once natively and return (logits, [StepTiming(layer, kernel, macs, seconds), ...])."""
        return self.executor.profile(self.check_input(x))


def resized_graph(graph: Graph, height: int, width: int) -> Graph:
    """The graph re-planned for inputs of height x width: every activation shape inferred
    again from the new input (constants shared). InputError naming the op when the graph
    cannot take that size (a fully connected layer whose input changes, an add of maps that
    no longer match, an output that would be empty); ResourceLimitError past the limits."""
    md = graph.metadata
    c = md.input_shape[0]
    if md.extra.get("fixed_input_size"):  # the importer computed padding or sizes from the file's size
        raise InputError(f"model '{md.name}' runs at its file's input size {md.input_shape[1]}x{md.input_shape[2]} "
                         f"only, not {height}x{width}: {md.extra['fixed_input_size']} (convert it again with "
                         f"--input-shape for another size)")
    for what, v in (("height", height), ("width", width)):
        if not 1 <= v <= fmt.MAX_DIM:
            raise InputError(f"input {what} {v} is outside [1, {fmt.MAX_DIM}]")
    tensors = dict(graph.tensors)
    name_in = graph.inputs[0]
    t = tensors[name_in]
    tensors[name_in] = Tensor(t.name, (1, c, height, width), None, t.dtype, t.scales, t.zero_point)
    # Labels name the first output's classes: dropped here if its size changes with the input
    # (the Model keeps its own); the re-planned graph is only run.
    new_md = Metadata(md.name, (c, height, width), md.mean, md.std, md.resize, (), dict(md.extra))
    g = Graph(new_md, tensors, list(graph.ops), list(graph.inputs), list(graph.outputs))
    try:
        for op in graph.ops:
            out = tensors[op.outputs[0]]
            shape = tuple(infer_output_shape(g, op))
            tensors[out.name] = Tensor(out.name, shape, None, out.dtype, out.scales, out.zero_point)
            elements = int(np.prod(shape, dtype=np.int64))
            if max(shape) > fmt.MAX_DIM or elements > fmt.MAX_ELEMENTS:
                raise ResourceLimitError(f"op '{op.name}' ({op.type}): output {shape} exceeds the tensor limits")
        if md.labels and int(np.prod(tensors[graph.outputs[0]].shape[1:])) == len(md.labels):
            new_md.labels = md.labels
        validate(g)
    except ResourceLimitError:
        raise
    except GraphError as e:  # UnsupportedOpError too: the graph cannot take this size
        raise InputError(f"model '{md.name}' cannot run at input size {height}x{width} (its file's is "
                         f"{md.input_shape[1]}x{md.input_shape[2]}): {e}") from e
    return g


def available_isas() -> list:
    """Kernel sets the native backend can use on this CPU, reference first, the default last
    ('ref', 'avx2', 'avx512' on x86; 'ref', 'neon' on ARM). ATTOCORE_ISA=NAME picks one of
    them for the models loaded after it is set (to compare or debug a path)."""
    return native.available_isas()


PRECISIONS = native.PRECISIONS


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
    ConfigError, naming the missing feature; never a silent fp32 fallback. precision="bf16"
    likewise: the same GEMMs with bfloat16 weights and inputs and fp32 sums (AVX512-BF16's
    vdpbf16ps), only on x86 CPUs with AVX512-BF16 (Sapphire Rapids, Zen 4 and later),
    ConfigError elsewhere. An int8 model's int8 layers are unaffected. ValueError for any
    other value.
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
        rebuild = NumbaBackend
    elif backend == "tvm":
        from .backends.tvm.backend import TvmBackend
        # A missing record set (tuned=True) or a cross-compilation target fails here, not at run.
        executor = TvmBackend(graph, target_name=target, threads=threads, tuned=tuned, records_root=records)

        def rebuild(g):
            return TvmBackend(g, target_name=target, threads=threads, tuned=tuned, records_root=records)
    else:
        def rebuild(g):  # the re-planned graph through the C++ loader, like a file (its weights fetched)
            try:
                data = fmt.encode(g)
            except RuntimeError as e:  # _DeferredWeights: a model loaded from bytes keeps none
                raise InputError(f"cannot re-plan model '{g.metadata.name}' for another input size: {e}") from e
            # "none": linked TVM kernels are compiled for the shapes of the file's size.
            return native.NativeBackend(data, threads, bool(force_reference), cap, "none", precision)
    return Model(graph, source, executor, rebuild)


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
