"""TVM backend: the attocore graph as a Relax IRModule (no PyTorch in the path), compiled
with Apache TVM 0.27 and run by the Relax VM.

    model = attocore.load("d.atto", backend="tvm")     # compiles for the host on first run
                                                       # (cached in ~/.cache/attocore/tvm)
    attocore.run("attonet-d", image, backend="tvm")

Needs `pip install "attocore[tvm]"` (apache-tvm 0.27 with apache-tvm-ffi pinned to 0.1.14.post0:
the newer ffi segfaults saving tuning records). MetaSchedule records (attocore.tvm_tune) are
applied when some exist for the net; without them TVM's CPU pipeline applies no schedule at
all and runs ~15x slower than the native backend. Either way it is the second, independent
execution path that keeps the hand-written kernels honest.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .errors import UnsupportedOpError

# Named targets: the host (its CPU detected by LLVM), and ARM boards for cross-compilation.
TARGETS = {
    "aarch64": {"kind": "llvm", "mtriple": "aarch64-linux-gnu", "mattr": ["+neon"]},
    "rpi4": {"kind": "llvm", "mtriple": "aarch64-linux-gnu", "mcpu": "cortex-a72", "mattr": ["+neon"]},
    "armv7": {"kind": "llvm", "mtriple": "armv7a-linux-gnueabihf", "mattr": ["+neon", "+vfp4"]},
}


def _tvm():
    os.environ.setdefault("TVM_NUM_THREADS", str(os.cpu_count() or 1))
    try:
        import tvm
        from tvm import relax
    except ImportError as e:
        raise ImportError('backend="tvm" needs Apache TVM: pip install "attocore[tvm]"') from e
    return tvm, relax


def host_target(threads: int = 0) -> dict:
    tvm, _ = _tvm()
    cpu = tvm.target.codegen.llvm_get_system_cpu() if hasattr(tvm.target, "codegen") else None
    t = {"kind": "llvm", "num-cores": threads or os.cpu_count() or 1}
    if cpu and cpu != "generic":
        t["mcpu"] = cpu
    return t


def target(name: str = "host", threads: int = 0):
    tvm, _ = _tvm()
    if name == "host":
        spec = host_target(threads)
    elif name in TARGETS:
        spec = dict(TARGETS[name], **{"num-cores": threads or 4})
    else:
        raise ValueError(f"unknown target '{name}': host, {', '.join(TARGETS)}")
    return tvm.target.Target(spec)


def to_relax(graph, batch: int = 1):
    """(IRModule, weights): see relax_module."""
    mod, weights, _ = relax_module(graph, batch)
    return mod, weights


def relax_module(graph, batch: int = 1):
    """(IRModule, weights, roles): main(input[batch, H, W, C], *weights) -> logits, and for
    each weight parameter's name the (op name, 'w' weight | 'b' bias) it belongs to.

    Activations are NHWC and conv weights HWIO, as in the native executor, so each fused
    layer function reads and writes the same layout as the hand-written kernels and can
    stand in for one of them (attocore.tvm_export). The caller transposes the NCHW input:
    numpy does it in ~0.1 ms, TVM's tuned transpose took 3.3 ms.

    Weights are parameters, not constants, so the fused TIR functions take them as buffers:
    tuning records then depend only on shapes (they apply to any weights of the same net)
    and stay small."""
    tvm, relax = _tvm()
    R = relax.op
    c, h, w = graph.metadata.input_shape
    bb = relax.BlockBuilder()
    x = relax.Var("input", relax.TensorType((batch, h, w, c), "float32"))
    weights, wvars, roles = [], [], {}

    def param(arr, op, role):
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        v = relax.Var(f"w{len(weights)}", relax.TensorType(arr.shape, "float32"))
        roles[f"w{len(weights)}"] = (op.name, role)
        weights.append(arr)
        wvars.append(v)
        return v

    def act(v, kind):
        if kind == "relu":
            return bb.emit(R.nn.relu(v))
        if kind == "relu6":
            return bb.emit(R.clip(v, 0.0, 6.0))
        return v

    # Parameters must be declared before the function body: collect them in op order first.
    plan = []
    for op in graph.ops:
        if op.type == "conv2d":
            b = graph.constant(op.inputs[2]) if len(op.inputs) == 3 else None
            plan.append((param(graph.constant(op.inputs[1]).transpose(2, 3, 1, 0), op, "w"),
                         None if b is None else param(b, op, "b")))
        elif op.type == "fully_connected":
            b = graph.constant(op.inputs[2]) if len(op.inputs) == 3 else None
            plan.append((param(graph.constant(op.inputs[1]).T, op, "w"), None if b is None else param(b, op, "b")))
        else:
            plan.append((None, None))

    with bb.function("main", [x] + wvars):
        with bb.dataflow():
            values = {graph.inputs[0]: x}
            for op, (wv, bv) in zip(graph.ops, plan):
                ins = [values.get(n) for n in op.inputs]
                if op.type == "conv2d":
                    y = bb.emit(R.nn.conv2d(ins[0], wv, strides=op.attrs["stride"], padding=op.attrs["pad"],
                                            dilation=op.attrs.get("dilation", (1, 1)),
                                            groups=op.attrs["groups"][0], data_layout="NHWC",
                                            kernel_layout="HWIO"))
                    if bv is not None:
                        y = bb.emit(R.add(y, bv))
                elif op.type in ("maxpool2d", "avgpool2d"):
                    pool = R.nn.max_pool2d if op.type == "maxpool2d" else R.nn.avg_pool2d
                    kw = {} if op.type == "maxpool2d" else {
                        "count_include_pad": bool(op.attrs.get("count_include_pad", (0,))[0])}
                    y = bb.emit(pool(ins[0], pool_size=op.attrs["kernel"], strides=op.attrs["stride"],
                                     padding=op.attrs["pad"], layout="NHWC", **kw))
                elif op.type == "global_avgpool":
                    y = bb.emit(R.mean(ins[0], axis=[1, 2]))
                elif op.type == "fully_connected":
                    y = bb.emit(R.matmul(ins[0], wv))
                    if bv is not None:
                        y = bb.emit(R.add(y, bv))
                elif op.type == "add":
                    y = bb.emit(R.add(ins[0], ins[1]))
                elif op.type == "activation":
                    y = ins[0]
                else:
                    raise UnsupportedOpError(f"op '{op.name}': {op.type} has no TVM lowering")
                values[op.outputs[0]] = act(y, op.activation)
            out = bb.emit_output(values[graph.outputs[0]])
        bb.emit_func_output(out)
    return bb.get(), weights, roles


def fused(mod, tgt):
    """Legalized and fused: one TIR function per fused layer, the unit MetaSchedule tunes
    and the records are keyed by."""
    tvm, relax = _tvm()
    T = relax.transform
    with tgt:
        return tvm.transform.Sequential([
            T.DecomposeOpsForInference(), T.CanonicalizeBindings(), T.LegalizeOps(),
            T.AnnotateTIROpPattern(), T.FoldConstant(), T.FuseOps(), T.FuseTIR()])(mod)


def model_slug(graph) -> str:
    """The name tuning records are filed under: the architecture's name ('attonet-d')."""
    return graph.metadata.name.strip().lower().replace(" ", "-").replace("/", "-") or "model"


def apply_records(mod, tgt, records_dir):
    """Schedule the fused module's TIR functions from a tuning database; returns
    (module, number of functions scheduled)."""
    tvm, relax = _tvm()
    from tvm.s_tir import meta_schedule as ms
    database = ms.database.JSONDatabase(work_dir=str(records_dir))
    with tgt, database:
        mod = relax.transform.MetaScheduleApplyDatabase()(mod)
    scheduled = sum(1 for f in mod.functions.values()
                    if getattr(f, "attrs", None) is not None and f.attrs.get("tirx.is_scheduled", False))
    return mod, scheduled


def cache_dir() -> Path:
    """Compiled TVM libraries: $ATTOCORE_CACHE_DIR/tvm, else ~/.cache/attocore/tvm."""
    root = os.environ.get("ATTOCORE_CACHE_DIR") or Path.home() / ".cache" / "attocore"
    return Path(root) / "tvm"


_pool_threads = [0]  # TVM's runtime thread pool is process-wide: its size as last set
_all_cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None


def _unpin_caller():
    """TVM's thread pool pins the calling thread to one core. Undo it: threads this thread
    starts later (attocore's own pool, other runtimes') would inherit the one-core mask."""
    if _all_cpus and os.sched_getaffinity(0) != _all_cpus:
        os.sched_setaffinity(0, _all_cpus)


def _use_threads(threads: int):
    """Resize TVM's thread pool when a model with another thread count runs (0: all cores)."""
    n = threads or os.cpu_count() or 1
    if _pool_threads[0] != n:
        tvm, _ = _tvm()
        tvm.get_global_func("runtime.config_threadpool")(1, n)  # 1: big cores first
        _pool_threads[0] = n


class TvmExecutor:
    """Compiles on first use and runs through the Relax VM.

    tuned: None applies tuning records when some are found for this net and target (see
    attocore.tvm_tune.find_records), True requires them, False compiles untuned."""

    def __init__(self, graph, target_name: str = "host", threads: int = 0, tuned=None,
                 records_root=None):
        self.graph = graph
        self.target_name = target_name
        self.threads = threads
        self._vms = {}
        from .tvm_tune import find_records, target_label
        self.records = None
        if tuned is not False:
            self.records = find_records(model_slug(graph), target_name, records_root)
            if tuned and self.records is None:
                raise FileNotFoundError(
                    f"no tuning records for {model_slug(graph)} on {target_label(target_name)}; "
                    f"run: attocore tune {model_slug(graph)} --target {target_name}")
        self.scheduled = 0
        self.from_cache = False

    @staticmethod
    def check_options(graph, tuned=None, target_name="host", records_root=None):
        """Fail early on an unknown target or required records that do not exist."""
        if target_name != "host" and target_name not in TARGETS:
            raise ValueError(f"unknown target '{target_name}': host, {', '.join(TARGETS)}")
        if target_name != "host":
            raise ValueError(f"target '{target_name}' is for cross-compiling (attocore export-tvm); "
                             "run on this machine with target='host'")
        if tuned:
            TvmExecutor(graph, target_name, 1, tuned, records_root)

    def build(self, mod):
        """The compiled executable of a module from to_relax (records applied if any)."""
        tvm, relax = _tvm()
        tgt = target(self.target_name, self.threads)
        mod = fused(mod, tgt)
        if self.records is not None:
            mod, self.scheduled = apply_records(mod, tgt, self.records)
        return tvm.compile(mod, target=tgt)

    def cache_key(self, batch: int) -> str:
        """What the compiled library depends on: the graph's structure and shapes (weights are
        arguments), the target, TVM's version and the records applied."""
        tvm, _ = _tvm()
        h = hashlib.sha256()
        for op in self.graph.ops:
            h.update(repr((op.type, op.name, op.inputs, op.outputs, sorted(op.attrs.items()), op.activation)).encode())
        for name, t in self.graph.tensors.items():
            h.update(repr((name, tuple(t.shape))).encode())
        h.update(f"{target(self.target_name, self.threads)}|{tvm.__version__}|{batch}".encode())
        if self.records is not None:
            from .tvm_tune import RECORD_FILES
            for f in RECORD_FILES:
                st = (Path(self.records) / f).stat()
                h.update(f"{Path(self.records).resolve()}/{f}:{st.st_size}:{st.st_mtime_ns}".encode())
        return h.hexdigest()[:32]

    def compile(self, batch: int):
        """The Relax VM and the weights: from the compiled-library cache when this graph,
        target and record set were compiled before (compiling AttoNet-D takes ~25 s)."""
        tvm, relax = _tvm()
        mod, arrays = to_relax(self.graph, batch)
        weights = [tvm.runtime.tensor(w) for w in arrays]
        lib_path = cache_dir() / f"{self.cache_key(batch)}.so"
        info_path = lib_path.with_suffix(".json")
        if lib_path.is_file() and info_path.is_file():
            try:
                self.scheduled = json.loads(info_path.read_text())["scheduled"]
                self.from_cache = True
                return relax.VirtualMachine(tvm.runtime.load_module(str(lib_path)), tvm.cpu()), weights
            except Exception:  # a damaged entry: compile again and overwrite it
                self.from_cache = False
        ex = self.build(mod)
        try:  # the cache is an optimisation: a read-only home directory must not fail the run
            lib_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = lib_path.with_name(f"{lib_path.stem}.{os.getpid()}.tmp.so")
            ex.export_library(str(tmp))
            tmp.replace(lib_path)
            info_path.write_text(json.dumps({"scheduled": self.scheduled, "records": str(self.records)}))
        except OSError:
            pass
        return relax.VirtualMachine(ex, tvm.cpu()), weights

    def run(self, x: np.ndarray) -> np.ndarray:
        """Compiled once, for batch 1 (the shapes tuning records are keyed by); a batch runs
        sample by sample."""
        tvm, _ = _tvm()
        if 1 not in self._vms:
            self._vms[1] = self.compile(1)
        vm, weights = self._vms[1]
        _use_threads(self.threads)
        nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        try:
            outs = [vm["main"](tvm.runtime.tensor(nhwc[i:i + 1]), *weights).numpy() for i in range(x.shape[0])]
        finally:
            _unpin_caller()
        return np.concatenate(outs, axis=0)
