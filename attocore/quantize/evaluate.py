"""A numpy evaluator of a graph, every tensor kept: the float model for calibration and the
per-layer report, and the integer reference the C++ int8 kernels must match bit for bit.

Float ops follow the op definitions (docs/FORMAT.md), in numpy's own arithmetic: float32
results agree with the C++ kernels' to rounding, not bit for bit (a smooth activation's exp, a
convolution's summation order), so a quantize op after a float op may round one value to the
neighbouring code now and then. int8 ops follow docs/QUANTIZATION.md
step by step, in float32 where the C++ does float32 (numpy's float32 ops round as the
hardware's do), with integer sums held exactly in float64 (every int8 sum the loader allows
is below 2^31, so float64 matrix products, fast through BLAS, are exact).
NCHW throughout; the C++ runs NHWC, which changes no value.
"""
from __future__ import annotations

import numpy as np

from ..graph import Graph
from ..tensor_ops_ref import TENSOR_OPS

F32 = np.float32


def _windows(x: np.ndarray, attrs: dict, fill) -> np.ndarray:
    """(N, C, OH, OW, kh, kw) views of x padded with `fill`."""
    kh, kw = attrs["kernel"]
    sh, sw = attrs["stride"]
    pt, pl, pb, pr = attrs["pad"]
    dh, dw = attrs.get("dilation", (1, 1))
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=fill)
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    win = np.lib.stride_tricks.sliding_window_view(xp, (span_h, span_w), axis=(2, 3))
    return win[:, :, ::sh, ::sw, ::dh, ::dw]


def _conv_sum(x: np.ndarray, w: np.ndarray, attrs: dict, fill, dtype) -> np.ndarray:
    """sum over (input channel of the group, tap) of x * w, in `dtype`, as (N, O, OH, OW)."""
    (groups,) = attrs["groups"]
    win = _windows(x.astype(dtype), attrs, fill)
    n, c, oh, ow, kh, kw = win.shape
    o = w.shape[0]
    win = win.reshape(n, groups, c // groups, oh, ow, kh, kw)
    wg = w.astype(dtype).reshape(groups, o // groups, c // groups, kh, kw)
    out = np.einsum("ngcyxij,gocij->ngoyx", win, wg, optimize=True)
    return out.reshape(n, o, oh, ow)


def _act(y: np.ndarray, act: str) -> np.ndarray:
    if act == "relu":
        return np.maximum(y, F32(0))
    if act == "relu6":
        return np.minimum(np.maximum(y, F32(0)), F32(6))
    if act == "sigmoid":
        return (1 / (1 + np.exp(-y.astype(np.float64)))).astype(F32)
    if act == "hardsigmoid":
        return np.clip(y + F32(3), 0, 6) / F32(6)
    if act == "hardswish":
        return y * (np.clip(y + F32(3), 0, 6) / F32(6))
    if act == "silu":
        return (y / (1 + np.exp(-y.astype(np.float64)))).astype(F32)
    if act == "tanh":
        return np.tanh(y).astype(F32)
    return y


# ---- int8 (docs/QUANTIZATION.md) ----

def clamp(v: np.ndarray, lo, hi) -> np.ndarray:
    """The C++ clamp, compare by compare: v > lo ? v : lo, then v < hi ? v : hi (so a NaN
    becomes lo, as it does there)."""
    v = np.where(v > lo, v, F32(lo))
    return np.where(v < hi, v, F32(hi)).astype(F32)


def requantize(acc: np.ndarray, multiplier, zero_point: int, lo: int, hi: int) -> np.ndarray:
    """round_half_even(clamp(float32(acc) * m, lo - zp, hi - zp)) + zp, all in float32
    (acc int64: a global average pool's sum converts to float32 directly)."""
    y = clamp(acc.astype(F32) * np.asarray(multiplier, dtype=F32), F32(lo - zero_point), F32(hi - zero_point))
    return (np.rint(y).astype(np.int32) + zero_point).astype(np.int8)


def epilogue_range(y_scale: float, zero_point: int, act: str) -> tuple:
    lo, hi = -128, 127
    if act in ("relu", "relu6"):
        lo = zero_point
    if act == "relu6":
        six = F32(6) / F32(y_scale)
        hi = 127 if six >= F32(255) else min(127, zero_point + int(np.rint(six)))
    return lo, hi


def _int8_op(graph: Graph, op, ins: list) -> np.ndarray:
    t = graph.tensors
    x_t, y_t = t[op.inputs[0]], t[op.outputs[0]]
    x = ins[0]
    if op.type == "quantize":
        s, zp = F32(y_t.scales[0]), y_t.zero_point
        v = clamp(x / s, F32(-128 - zp), F32(127 - zp))
        return (np.rint(v).astype(np.int32) + zp).astype(np.int8)
    if op.type == "dequantize":
        return (x.astype(np.int32) - x_t.zero_point).astype(F32) * F32(x_t.scales[0])
    lo, hi = epilogue_range(y_t.scales[0], y_t.zero_point, op.activation)
    sx, sy = F32(x_t.scales[0]), F32(y_t.scales[0])
    if op.type in ("conv2d", "fully_connected"):
        w_t = t[op.inputs[1]]
        w = w_t.data
        m = sx * np.asarray(w_t.scales, dtype=F32) / sy
        if op.type == "conv2d":
            acc = _conv_sum(x.astype(np.float64) - x_t.zero_point, w, op.attrs, 0.0, np.float64)
            shape = (1, -1, 1, 1)
        else:
            acc = (x.astype(np.float64) - x_t.zero_point) @ w.astype(np.float64).T
            shape = (1, -1)
        if len(op.inputs) == 3:
            acc = acc + t[op.inputs[2]].data.astype(np.float64).reshape(shape)
        return requantize(acc.astype(np.int64), m.reshape(shape) if m.size > 1 else m[0], y_t.zero_point, lo, hi)
    if op.type == "maxpool2d":
        y = _windows(x, op.attrs, -128).max(axis=(4, 5))
        return np.clip(y, lo, hi).astype(np.int8)
    if op.type == "global_avgpool":
        hw = x.shape[2] * x.shape[3]
        acc = x.astype(np.int64).sum(axis=(2, 3)) - np.int64(hw) * x_t.zero_point
        return requantize(acc, sx / sy / F32(hw), y_t.zero_point, lo, hi)
    if op.type == "add":
        b_t = t[op.inputs[1]]
        ma, mb = sx / sy, F32(b_t.scales[0]) / sy
        v = (x.astype(np.int32) - x_t.zero_point).astype(F32) * ma + \
            (ins[1].astype(np.int32) - b_t.zero_point).astype(F32) * mb
        v = clamp(v, F32(lo - y_t.zero_point), F32(hi - y_t.zero_point))
        return (np.rint(v).astype(np.int32) + y_t.zero_point).astype(np.int8)
    raise NotImplementedError(f"op '{op.name}' ({op.type}): no int8 reference")


def _float_op(graph: Graph, op, ins: list) -> np.ndarray:
    t = graph.tensors
    x = ins[0]
    if op.type == "conv2d":
        y = _conv_sum(x, t[op.inputs[1]].data, op.attrs, 0.0, F32)
        if len(op.inputs) == 3:
            y = y + t[op.inputs[2]].data.reshape(1, -1, 1, 1)
    elif op.type == "fully_connected":
        y = x @ t[op.inputs[1]].data.T
        if len(op.inputs) == 3:
            y = y + t[op.inputs[2]].data
    elif op.type == "maxpool2d":
        y = _windows(x, op.attrs, -np.inf).max(axis=(4, 5))
    elif op.type == "avgpool2d":
        win = _windows(x, op.attrs, 0.0)
        if op.attrs.get("count_include_pad", (0,))[0]:
            y = win.mean(axis=(4, 5))
        else:
            ones = _windows(np.ones((1, 1) + x.shape[2:], F32), op.attrs, 0.0).sum(axis=(4, 5))
            y = win.sum(axis=(4, 5)) / ones
    elif op.type == "global_avgpool":
        y = x.mean(axis=(2, 3))
    elif op.type == "add":
        y = x + ins[1]
    elif op.type == "mul":
        y = x * (ins[1] if ins[1].shape == x.shape else ins[1][:, :, None, None])
    elif op.type == "activation":
        y = x
    elif op.type in TENSOR_OPS:
        activations = iter(ins)
        y = TENSOR_OPS[op.type](op, [t[n].data if t[n].is_constant else next(activations) for n in op.inputs],
                                t[op.outputs[0]].shape)
    else:
        raise NotImplementedError(f"op '{op.name}' ({op.type})")
    return _act(y.astype(F32), op.activation)


def evaluate(graph: Graph, x: np.ndarray, keep=None) -> dict:
    """Every activation tensor (name -> array) of the graph run on NCHW batch x; with `keep`
    (a set of names), only those and the outputs are kept."""
    env = {graph.inputs[0]: np.ascontiguousarray(x, dtype=F32)}
    readers = {}
    for i, op in enumerate(graph.ops):
        for n in op.inputs:
            readers[n] = i
    outs = set(graph.outputs)
    for i, op in enumerate(graph.ops):
        ins = [env[n] for n in op.inputs if not graph.tensors[n].is_constant]
        quantized = any(graph.tensors[n].dtype != "float32" for n in op.inputs + op.outputs)
        env[op.outputs[0]] = _int8_op(graph, op, ins) if quantized else _float_op(graph, op, ins)
        if keep is not None:
            for n in op.inputs:
                if readers.get(n) == i and n not in keep and n not in outs:
                    env.pop(n, None)
    return env


def run(graph: Graph, x: np.ndarray) -> np.ndarray:
    return evaluate(graph, x, keep=set())[graph.outputs[0]]
