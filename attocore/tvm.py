"""TVM backend: the attocore graph as a Relax IRModule (no PyTorch in the path), compiled
with Apache TVM 0.27 and run by the Relax VM.

    model = attocore.load("d.atto", backend="tvm")     # compiles for the host on first run
    attocore.run("attonet-d", image, backend="tvm")

Needs `pip install "attocore[tvm]"` (apache-tvm 0.27 with apache-tvm-ffi pinned to 0.1.14.post0:
the newer ffi segfaults saving tuning records). This path is untuned: TVM's default CPU
pipeline applies no schedules, so expect it to be far slower than the native backend; it is
the second, independent execution path that keeps the hand-written kernels honest.
"""
from __future__ import annotations

import os

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
    """IRModule with a function main(input[batch, C, H, W]) -> logits, weights as constants."""
    tvm, relax = _tvm()
    R = relax.op
    c, h, w = graph.metadata.input_shape
    bb = relax.BlockBuilder()
    x = relax.Var("input", relax.TensorType((batch, c, h, w), "float32"))

    def act(v, kind):
        if kind == "relu":
            return bb.emit(R.nn.relu(v))
        if kind == "relu6":
            return bb.emit(R.clip(v, 0.0, 6.0))
        return v

    with bb.function("main", [x]):
        with bb.dataflow():
            values = {graph.inputs[0]: x}
            for op in graph.ops:
                ins = [values.get(n) for n in op.inputs]
                if op.type == "conv2d":
                    wt = graph.constant(op.inputs[1])
                    y = bb.emit(R.nn.conv2d(ins[0], relax.const(wt), strides=op.attrs["stride"],
                                            padding=op.attrs["pad"], dilation=op.attrs.get("dilation", (1, 1)),
                                            groups=op.attrs["groups"][0]))
                    if len(op.inputs) == 3:
                        b = graph.constant(op.inputs[2]).reshape(1, -1, 1, 1)
                        y = bb.emit(R.add(y, relax.const(np.ascontiguousarray(b))))
                elif op.type in ("maxpool2d", "avgpool2d"):
                    pool = R.nn.max_pool2d if op.type == "maxpool2d" else R.nn.avg_pool2d
                    kw = {} if op.type == "maxpool2d" else {
                        "count_include_pad": bool(op.attrs.get("count_include_pad", (0,))[0])}
                    y = bb.emit(pool(ins[0], pool_size=op.attrs["kernel"], strides=op.attrs["stride"],
                                     padding=op.attrs["pad"], **kw))
                elif op.type == "global_avgpool":
                    y = bb.emit(R.mean(ins[0], axis=[2, 3]))
                elif op.type == "fully_connected":
                    wt = np.ascontiguousarray(graph.constant(op.inputs[1]).T)
                    y = bb.emit(R.matmul(ins[0], relax.const(wt)))
                    if len(op.inputs) == 3:
                        y = bb.emit(R.add(y, relax.const(np.ascontiguousarray(graph.constant(op.inputs[2])))))
                elif op.type == "add":
                    y = bb.emit(R.add(ins[0], ins[1]))
                elif op.type == "activation":
                    y = ins[0]
                else:
                    raise UnsupportedOpError(f"op '{op.name}': {op.type} has no TVM lowering")
                values[op.outputs[0]] = act(y, op.activation)
            out = bb.emit_output(values[graph.outputs[0]])
        bb.emit_func_output(out)
    return bb.get()


class TvmExecutor:
    """Compiles per batch size on first use and runs through the Relax VM."""

    def __init__(self, graph, target_name: str = "host", threads: int = 0):
        self.graph = graph
        self.target_name = target_name
        self.threads = threads
        self._vms = {}

    def compile(self, batch: int):
        tvm, relax = _tvm()
        mod = to_relax(self.graph, batch)
        ex = tvm.compile(mod, target=target(self.target_name, self.threads))
        return relax.VirtualMachine(ex, tvm.cpu())

    def run(self, x: np.ndarray) -> np.ndarray:
        tvm, _ = _tvm()
        batch = x.shape[0]
        if batch not in self._vms:
            self._vms[batch] = self.compile(batch)
        out = self._vms[batch]["main"](tvm.runtime.tensor(np.ascontiguousarray(x)))
        return out.numpy()
