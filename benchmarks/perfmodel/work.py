"""Per-step work of a net as attocore runs it: the steps (fused ops) come from the runtime's
own plan (NativeModel.kernels(): step names and kernels), the shapes from the graph.

A step name is `first..last` (every op between them in graph order) with `+op` for ops the
step takes along (a residual add, the next module's compression). Its ops become parts:
a GEMM per dense convolution (a 1x1 is m = pixels, k = cin, n = cout; a KxK k = cin*kh*kw,
as the indirect kernel runs it), a depthwise part, the stem, a fully connected layer
(m = batch = 1), and memory-only parts (pools, adds). An add of two convolutions of the same
step is the fused projection shortcut: one GEMM with k = k1 + k2 (pwpw.h); an add of a
convolution and an outside tensor is that GEMM's residual epilogue.

Bytes moved by a step: its activations read from outside the step, the activations it
writes that something outside reads, and its weights (fp32). Intermediates of a fused step
stay in per-thread scratch (the fusion's point), so they are not counted.
"""
from __future__ import annotations

import dataclasses
import os


@dataclasses.dataclass
class GemmPart:
    name: str
    m: int
    k: int
    n: int
    residual: bool = False
    copied_k: int = 0        # a folded projection's input channels, copied per pixel


    @property
    def macs(self):
        return self.m * self.k * self.n


@dataclasses.dataclass
class DwconvPart:
    name: str
    pixels: int
    channels: int
    taps: int

    @property
    def macs(self):
        return self.pixels * self.channels * self.taps


@dataclasses.dataclass
class StemPart:
    name: str
    out_h: int
    out_w: int
    channels: int
    taps: int

    @property
    def macs(self):
        return self.out_h * self.out_w * self.channels * self.taps


@dataclasses.dataclass
class StemPadPart:
    """The stem's zero-padded copy of the image (stem.h's stem_pad_rows), a pass of its own
    before the stem's FMAs: the image read, the padded rows (in the geometry of
    make_stem_shape, stem_common.cpp) written."""
    name: str
    read_bytes: int
    written_bytes: int
    macs: int = 0

    @property
    def bytes(self):
        return self.read_bytes + self.written_bytes


def stem_pad_part(name: str, x_shape, attrs) -> StemPadPart:
    _, c, h, w = (int(v) for v in x_shape)
    kh, kw = attrs["kernel"]
    sh, sw = attrs["stride"]
    top, left, bottom, right = attrs["pad"]
    out_w = (w + left + right - kw) // sw + 1
    padded_w = (-(-out_w // 16) * 16 - 1) * sw + kw + 16  # whole 16-pixel vectors, plus slack
    padded_w += padded_w & 1
    padded_h = h + top + bottom + 1
    return StemPadPart(name + ".pad", 4 * c * h * w, 4 * c * padded_h * padded_w)


@dataclasses.dataclass
class PoolPart:
    name: str
    pixels: int
    channels: int
    taps: int
    macs: int = 0


@dataclasses.dataclass
class MemoryPart:
    name: str
    macs: int = 0


@dataclasses.dataclass
class Step:
    name: str
    kernel: str                  # the host runtime's kernel name for it
    parts: list
    bytes_in: int
    bytes_out: int
    bytes_weights: int
    pixels: int                  # work items threads split (output pixels, rows for an FC)

    @property
    def macs(self):
        return sum(p.macs for p in self.parts)

    @property
    def bytes(self):
        return self.bytes_in + self.bytes_out + self.bytes_weights


def load_model(net: str, threads: int = 1):
    import attocore
    return attocore.load(net, threads=threads)


def _numel(shape):
    n = 1
    for s in shape:
        n *= int(s)
    return n


def step_ops(graph, name: str) -> list:
    names = [op.name for op in graph.ops]
    head, *extra = name.split("+")
    first, _, last = head.partition("..")
    i0 = names.index(first)
    i1 = names.index(last) if last else i0
    ops = graph.ops[i0:i1 + 1]
    for e in extra:
        ops.append(graph.ops[names.index(e)])
    return ops


def steps_of(model) -> list:
    """The model's steps with their parts and bytes (model: an attocore.Model, native)."""
    g = model.graph
    consumers = {}
    for op in g.ops:
        for t in op.inputs:
            consumers.setdefault(t, []).append(op.name)
    graph_in = set(g.inputs)
    graph_out = set(g.outputs)
    out = []
    for step_name, kernel in model.executor.kernels():
        ops = step_ops(g, step_name)
        in_step = {op.name for op in ops}
        produced = {t for op in ops for t in op.outputs}
        parts, gemm_of = [], {}
        for op in ops:
            y = g.tensors[op.outputs[0]].shape
            if op.type == "conv2d":
                x = g.tensors[op.inputs[0]].shape
                kh, kw = op.attrs["kernel"]
                groups = op.attrs["groups"][0]
                pixels = int(y[0] * y[2] * y[3])
                if groups > 1 and groups == x[1]:
                    parts.append(DwconvPart(op.name, pixels, int(y[1]), kh * kw))
                elif op.inputs[0] in graph_in and (kh > 1 or kw > 1):
                    parts.append(stem_pad_part(op.name, x, op.attrs))
                    parts.append(StemPart(op.name, int(y[2]), int(y[3]), int(y[1]), kh * kw * int(x[1])))
                else:
                    p = GemmPart(op.name, pixels, int(x[1]) * kh * kw, int(y[1]))
                    parts.append(p)
                    gemm_of[op.outputs[0]] = p
            elif op.type == "fully_connected":
                w = g.tensors[op.inputs[1]].shape
                parts.append(GemmPart(op.name, int(y[0]), int(w[1]), int(w[0])))
            elif op.type == "add":
                a, b = (gemm_of.get(t) for t in op.inputs[:2])
                if a is not None and b is not None:  # the projection folded into the product
                    a.k += b.k
                    a.copied_k = b.k
                    parts.remove(b)
                elif a is not None or b is not None:
                    (a or b).residual = True
                else:
                    parts.append(MemoryPart(op.name))
            elif op.type in ("maxpool2d", "avgpool2d"):
                kh, kw = op.attrs["kernel"]
                parts.append(PoolPart(op.name, int(y[0] * y[2] * y[3]), int(y[1]), kh * kw))
            else:
                parts.append(MemoryPart(op.name))
        bytes_in = bytes_w = bytes_out = 0
        seen = set()
        for op in ops:
            for t in op.inputs:
                if t in seen or t in produced:
                    continue
                seen.add(t)
                tensor = g.tensors[t]
                if tensor.data is not None:
                    bytes_w += 4 * _numel(tensor.shape)
                else:
                    bytes_in += 4 * _numel(tensor.shape)
            for t in op.outputs:
                if t in graph_out or any(c not in in_step for c in consumers.get(t, [])):
                    bytes_out += 4 * _numel(g.tensors[t].shape)
        last = g.tensors[ops[-1].outputs[0]].shape
        pixels = int(last[0] * last[2] * last[3]) if len(last) == 4 else int(last[0])
        for p in parts:
            if isinstance(p, GemmPart) and p.m > 1:
                pixels = p.m
        out.append(Step(step_name, kernel, parts, bytes_in, bytes_out, bytes_w, pixels))
    return out


IMPORTED = {"mobilenet-v2": "MobileNetV2", "small-resnet": "SmallResNet"}


def resolve_net(name: str, cache_dir: str | None = None) -> str:
    """A zoo name or .atto path as is; mobilenet-v2 / small-resnet are exported from
    attocore/testing/torch_nets.py (random weights, as the tests and the benchmark make them) through ONNX
    and attocore's converter into cache_dir, once. Their timing does not depend on the weights."""
    if name.startswith("attonet") or os.path.exists(name):
        return name
    if name not in IMPORTED:
        raise ValueError(f"{name}: not a zoo name, an imported test net or a file")
    import tempfile
    cache_dir = cache_dir or os.path.join(tempfile.gettempdir(), "attocore-perfmodel", "nets")
    os.makedirs(cache_dir, exist_ok=True)
    atto = os.path.join(cache_dir, name + ".atto")
    if not os.path.exists(atto):
        import torch
        from attocore import onnx as aonnx
        from attocore.testing import torch_nets as models
        torch.manual_seed(0)
        net = models.randomize(getattr(models, IMPORTED[name])(), seed=1)
        onnx_path = os.path.join(cache_dir, name + ".onnx")
        models.export_onnx(net, onnx_path)
        aonnx.convert(onnx_path, atto)
    return atto
