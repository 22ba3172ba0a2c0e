"""The float graph made int8 (docs/QUANTIZATION.md): which ops run in int8, the quantize and
dequantize ops at the edges between int8 and float ops, and each tensor's quantization."""
from __future__ import annotations

import numpy as np

from ..errors import FormatError
from ..graph import CLAMP_ACTIVATIONS, MAX_INT8_BIAS, MAX_INT8_REDUCTION, Graph, Metadata, Op, Tensor

F32 = np.float32
# Ops with int8 kernels (csrc/exec/int8_layers.h). The others (average pools, mul, the smooth
# activations) stay float32 between a dequantize and a quantize.
INT8_OPS = ("conv2d", "fully_connected", "maxpool2d", "global_avgpool", "add")


def default_keep_float(graph: Graph) -> tuple:
    """The ops left in float32 unless the caller says otherwise: a convolution reading the
    graph input. It reads the float image directly with the float stem kernels (int8 would
    first need a quantize pass over the image, and its 3 input channels give an int8 GEMM too
    little depth to win), and the image's own rounding error would otherwise enter every
    later layer (measured: docs/DECISIONS.md)."""
    return tuple(op.name for op in graph.ops if op.type == "conv2d" and op.inputs[0] == graph.inputs[0])


def int8_ops(graph: Graph, keep_float=None) -> set:
    """Names of the ops that become int8: those with an int8 kernel, a clamp activation and
    (conv2d, fully_connected) a reduction within the int8 limit, minus `keep_float`."""
    if keep_float is None:
        keep_float = default_keep_float(graph)
    if isinstance(keep_float, str):
        keep_float = (keep_float,)
    unknown = sorted(set(keep_float) - {op.name for op in graph.ops})
    if unknown:
        raise ValueError(f"keep_float names no op of '{graph.metadata.name}': {', '.join(unknown)}")
    chosen = set()
    for op in graph.ops:
        if op.type not in INT8_OPS or op.activation not in CLAMP_ACTIVATIONS or op.name in keep_float:
            continue
        if op.type in ("conv2d", "fully_connected"):
            if int(np.prod(graph.tensors[op.inputs[1]].shape[1:])) > MAX_INT8_REDUCTION:
                continue
        chosen.add(op.name)
    return chosen


def activation_params(lo: float, hi: float) -> tuple:
    """(scale, zero point) covering [lo, hi] widened to hold 0 (so zero padding and ReLU's 0
    are exact codes), over the 256 codes of int8."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if not np.isfinite(lo) or not np.isfinite(hi):
        raise ValueError("calibration saw NaN or infinity")
    span = max(hi - lo, 1e-6)
    scale = F32(span / 255.0)
    zp = int(np.clip(np.rint(-128 - lo / float(scale)), -128, 127))
    return float(scale), zp


def _within_multiplier_range(params: tuple, src, chosen: set, params_of, tensors) -> tuple:
    """An add's or global average pool's output scale widened (or narrowed) until its
    requantization multipliers lie in the range the loader allows (an output range near 0,
    as a sum of opposite terms gives, would otherwise make them huge)."""
    if src is None or src.name not in chosen or src.type not in ("add", "global_avgpool"):
        return params
    scale, zp = params
    if src.type == "add":
        ins = [params_of(n)[0] for n in src.inputs]
    else:
        x = tensors[src.inputs[0]]
        ins = [params_of(src.inputs[0])[0] / float(x.shape[2] * x.shape[3])]
    low, high = max(ins) * 2.0 ** -19, min(ins) * 2.0 ** 39  # scale bounds with margin
    if scale < low or scale > high:
        scale = float(F32(min(max(scale, low), high)))
    return scale, zp


def _weight_params(w: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Per output channel symmetric scales (|w| max over 127), kept where the requantization
    multiplier sx * sw / sy stays a normal float of the allowed range."""
    absmax = np.abs(w.reshape(w.shape[0], -1)).max(axis=1).astype(np.float64)
    sw = absmax / 127.0
    floor = float(sy) / float(sx) * 2.0 ** -38
    ceiling = float(sy) / float(sx) * 2.0 ** 18
    sw = np.where(absmax > 0, np.clip(sw, floor, ceiling), float(sy) / float(sx))  # all-zero channel: multiplier 1
    return sw.astype(F32)


def quantize_graph(graph: Graph, ranges: dict, chosen: set, note: str = "", qparams: dict = None,
                   weight_scales: dict = None) -> Graph:
    """A new graph: ops in `chosen` on int8 tensors with the scales of `ranges` (tensor name
    -> (lo, hi)), quantize / dequantize ops where int8 and float32 tensors meet.
    A model quantized elsewhere (an ONNX QDQ model) gives its own parameters instead, used as
    they are: `qparams` (tensor name -> (scale, zero point)) and `weight_scales` (op name ->
    per-output-channel weight scales). Their limits are not widened into range but checked:
    a bias beyond the int32 limit raises here, a multiplier out of range in format.validate."""
    fixed = dict(qparams or {})
    weight_scales = weight_scales or {}
    t = graph.tensors
    producer = {op.outputs[0]: op for op in graph.ops}
    qparams = {}  # activation tensor name -> (scale, zp) of its int8 version

    def params_of(name):
        if name not in qparams:
            src = producer.get(name)
            if src is not None and src.type == "maxpool2d" and src.name in chosen:
                qparams[name] = params_of(src.inputs[0])  # a max pool keeps its input's codes
            elif name in fixed:
                qparams[name] = (float(F32(fixed[name][0])), int(fixed[name][1]))
            else:
                qparams[name] = _within_multiplier_range(activation_params(*ranges[name]), src, chosen, params_of,
                                                         t)
        return qparams[name]

    tensors, ops = {}, []
    int8_of, float_of = {}, {}  # a tensor's int8 / float32 version, by the original name
    for name, tensor in t.items():
        if not tensor.is_constant:
            int8 = (name in producer and producer[name].name in chosen)
            if int8:
                s, zp = params_of(name)
                tensors[name] = Tensor(name, tensor.shape, None, "int8", (s,), zp)
                int8_of[name] = name
            else:
                tensors[name] = Tensor(name, tensor.shape, None, "float32")
                float_of[name] = name

    def as_int8(name):
        if name not in int8_of:
            s, zp = params_of(name)
            q = f"{name}.q"
            tensors[q] = Tensor(q, t[name].shape, None, "int8", (s,), zp)
            ops.append(Op("quantize", f"{name}.quantize", [float_of[name]], [q]))
            int8_of[name] = q
        return int8_of[name]

    def as_float(name):
        if name not in float_of:
            d = f"{name}.dq"
            tensors[d] = Tensor(d, t[name].shape, None, "float32")
            ops.append(Op("dequantize", f"{name}.dequantize", [int8_of[name]], [d]))
            float_of[name] = d
        return float_of[name]

    # A constant read by several ops gets one quantized copy per int8 op that reads it (its
    # bias units depend on that op's input scale), and float readers keep the float original.
    uses = {}
    for op in graph.ops:
        for n in op.inputs:
            if t[n].is_constant:
                uses[n] = uses.get(n, 0) + 1

    def own(name, op):
        return name if uses[name] == 1 else f"{name}@{op.name}"

    for op in graph.ops:
        acts = [n for n in op.inputs if not t[n].is_constant]
        if op.name not in chosen:
            for n in op.inputs:
                if t[n].is_constant:
                    tensors[n] = t[n]
            ops.append(Op(op.type, op.name, [n if t[n].is_constant else as_float(n) for n in op.inputs],
                          list(op.outputs), dict(op.attrs), op.activation))
            continue
        inputs = [as_int8(n) for n in acts]
        if op.type in ("conv2d", "fully_connected"):
            sx, sy = tensors[inputs[0]].scales[0], tensors[op.outputs[0]].scales[0]
            w = t[op.inputs[1]].data
            given = op.name in weight_scales
            sw = np.asarray(weight_scales[op.name], F32) if given else _weight_params(w, sx, sy)
            shape = (-1,) + (1,) * (w.ndim - 1)
            wq = np.clip(np.rint(w / sw.reshape(shape)), -127, 127).astype(np.int8)
            wname = own(op.inputs[1], op)
            tensors[wname] = Tensor(wname, w.shape, wq, "int8", tuple(float(v) for v in sw), 0)
            inputs.append(wname)
            if len(op.inputs) == 3:
                b = t[op.inputs[2]].data.astype(np.float64)
                bq = np.rint(b / (float(sx) * sw.astype(np.float64)))
                if given and np.abs(bq).max(initial=0) > MAX_INT8_BIAS:
                    raise FormatError(f"op '{op.name}': bias '{op.inputs[2]}' is {np.abs(bq).max():.4g} units of input "
                                      f"scale x weight scale, beyond the int32 bias limit of 2^30")
                bq = np.clip(bq, -MAX_INT8_BIAS, MAX_INT8_BIAS)
                bname = own(op.inputs[2], op)
                tensors[bname] = Tensor(bname, b.shape, bq.astype(np.int32), "int32")
                inputs.append(bname)
        ops.append(Op(op.type, op.name, inputs, list(op.outputs), dict(op.attrs), op.activation))
    # Every graph output float32 again (models take and give float32), in the graph's order.
    outputs = [as_float(out) if tensors[out].dtype == "int8" else out for out in graph.outputs]
    md = graph.metadata
    extra = dict(md.extra, precision="int8")
    if note:
        extra["quantization"] = note
    metadata = Metadata(md.name, md.input_shape, md.mean, md.std, md.resize, md.labels, extra)
    return graph_in_use_order(metadata, tensors, ops, list(graph.inputs), outputs)


def graph_in_use_order(metadata, tensors: dict, ops: list, inputs: list, outputs: list) -> Graph:
    """A Graph of `ops` whose tensors are those they use, in the order ops first use them
    (tensors no op reads or writes any more dropped)."""
    ordered = {}
    for n in [inputs[0]] + [n for op in ops for n in op.inputs + op.outputs]:
        if n not in ordered:
            ordered[n] = tensors[n]
    return Graph(metadata, ordered, ops, inputs, outputs)
