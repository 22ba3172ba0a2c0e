"""The attocore graph as a Relax IRModule (no PyTorch in the path), fused into the TIR
functions MetaSchedule tunes, compiled by Apache TVM 0.27, and a cache of the compiled
libraries.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import UnsupportedOpError
from .library import load_tvm
from .records import RECORD_FILES, apply_records


def to_relax(graph, batch: int = 1):
    """(IRModule, weights): see relax_module."""
    mod, weights, _ = relax_module(graph, batch)
    return mod, weights


def check_single_output(graph) -> None:
    """The TVM backend lowers a graph to one output tensor: a graph with several is refused."""
    if len(graph.outputs) != 1:
        raise UnsupportedOpError(f"model '{graph.metadata.name}' has {len(graph.outputs)} graph outputs: the TVM "
                                 f"backend compiles single-output models only (run it on the native or numba "
                                 f"backend)")


def relax_module(graph, batch: int = 1):
    """(IRModule, weights, roles): main(input[batch, H, W, C], *weights) -> logits, and for
    each weight parameter's name the (op name, 'w' weight | 'b' bias) it belongs to.

    An int8 graph is refused (UnsupportedOpError): TVM here compiles float32 models.

    Activations are NHWC and conv weights HWIO, as in the native executor, so each fused
    layer function reads and writes the same layout as the hand-written kernels and can
    stand in for one of them (attocore.backends.tvm.export). The caller transposes the NCHW input:
    numpy does it in ~0.1 ms, TVM's tuned transpose took 3.3 ms.

    Weights are parameters, not constants, so the fused TIR functions take them as buffers:
    tuning records then depend only on shapes (they apply to any weights of the same net)
    and stay small."""
    if any(t.dtype != "float32" for t in graph.tensors.values()):
        from ...errors import UnsupportedOpError
        raise UnsupportedOpError(f"model '{graph.metadata.name}' is int8: the TVM backend compiles float32 models "
                                 f"only (int8 runs on the native backend)")
    check_single_output(graph)
    tvm, relax = load_tvm()
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
        if kind == "sigmoid":
            return bb.emit(R.sigmoid(v))
        if kind in ("hardsigmoid", "hardswish"):  # relu6(v + 3) / 6, times v for hard swish
            gate = bb.emit(R.divide(R.clip(R.add(v, relax.const(3.0, "float32")), 0.0, 6.0),
                                    relax.const(6.0, "float32")))
            return gate if kind == "hardsigmoid" else bb.emit(R.multiply(v, gate))
        if kind == "silu":
            return bb.emit(R.multiply(v, R.sigmoid(v)))
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
                elif op.type == "mul":  # NHWC: an (N, C) scale broadcasts as (N, 1, 1, C)
                    x_shape = graph.tensors[op.inputs[0]].shape
                    s_shape = graph.tensors[op.inputs[1]].shape
                    scale = ins[1] if tuple(s_shape) == tuple(x_shape) else bb.emit(
                        R.reshape(ins[1], (batch, 1, 1, x_shape[1])))
                    y = bb.emit(R.multiply(ins[0], scale))
                else:
                    raise UnsupportedOpError(f"op '{op.name}': {op.type} has no TVM lowering")
                values[op.outputs[0]] = act(y, op.activation)
            out = bb.emit_output(values[graph.outputs[0]])
        bb.emit_func_output(out)
    return bb.get(), weights, roles


def fused(mod, tgt):
    """Legalized and fused: one TIR function per fused layer, the unit MetaSchedule tunes
    and the records are keyed by."""
    tvm, relax = load_tvm()
    T = relax.transform
    with tgt:
        return tvm.transform.Sequential([
            T.DecomposeOpsForInference(), T.CanonicalizeBindings(), T.LegalizeOps(),
            T.AnnotateTIROpPattern(), T.FoldConstant(), T.FuseOps(), T.FuseTIR()])(mod)


def cache_dir() -> Path:
    """Compiled TVM libraries: $ATTOCORE_CACHE_DIR/tvm, else ~/.cache/attocore/tvm."""
    root = os.environ.get("ATTOCORE_CACHE_DIR") or Path.home() / ".cache" / "attocore"
    return Path(root) / "tvm"


def build(mod, tgt, records=None):
    """(executable, functions scheduled): a module from to_relax, fused, with the schedules
    of a records directory applied when one is given."""
    tvm, _ = load_tvm()
    mod = fused(mod, tgt)
    scheduled = 0
    if records is not None:
        mod, scheduled = apply_records(mod, tgt, records)
    return tvm.compile(mod, target=tgt), scheduled


def cache_key(graph, tgt, records, batch: int) -> str:
    """What the compiled library depends on: the graph's structure and shapes (weights are
    arguments), the target, TVM's version and the records applied."""
    tvm, _ = load_tvm()
    h = hashlib.sha256()
    for op in graph.ops:
        h.update(repr((op.type, op.name, op.inputs, op.outputs, sorted(op.attrs.items()), op.activation)).encode())
    for name, t in graph.tensors.items():
        h.update(repr((name, tuple(t.shape))).encode())
    h.update(f"{tgt}|{tvm.__version__}|{batch}".encode())
    if records is not None:
        for f in RECORD_FILES:
            st = (Path(records) / f).stat()
            h.update(f"{Path(records).resolve()}/{f}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:32]


@dataclass
class Compiled:
    vm: object          # tvm.relax.VirtualMachine
    weights: list       # main()'s weight arguments, as TVM tensors
    scheduled: int      # TIR functions the records scheduled
    from_cache: bool


def compile_cached(graph, tgt, records=None, batch: int = 1) -> Compiled:
    """The Relax VM and the weights: from the compiled-library cache when this graph, target
    and record set were compiled before (compiling AttoNet-D takes ~25 s)."""
    tvm, relax = load_tvm()
    mod, arrays = to_relax(graph, batch)
    weights = [tvm.runtime.tensor(w) for w in arrays]
    lib_path = cache_dir() / f"{cache_key(graph, tgt, records, batch)}.so"
    info_path = lib_path.with_suffix(".json")
    if lib_path.is_file() and info_path.is_file():
        try:
            scheduled = json.loads(info_path.read_text())["scheduled"]
            return Compiled(relax.VirtualMachine(tvm.runtime.load_module(str(lib_path)), tvm.cpu()), weights,
                            scheduled, True)
        except Exception:  # a damaged entry: compile again and overwrite it
            pass
    ex, scheduled = build(mod, tgt, records)
    try:  # the cache is an optimisation: a read-only home directory must not fail the run
        lib_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = lib_path.with_name(f"{lib_path.stem}.{os.getpid()}.tmp.so")
        ex.export_library(str(tmp))
        tmp.replace(lib_path)
        info_path.write_text(json.dumps({"scheduled": scheduled, "records": str(records)}))
    except OSError:
        pass
    return Compiled(relax.VirtualMachine(ex, tvm.cpu()), weights, scheduled, False)
