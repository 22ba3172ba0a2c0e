"""backend="numba": the graph executed by numba-jitted NCHW kernels.

An implementation independent of the C++ one (other layout, other loop order, written
from the op definitions), used as a test oracle and where no native build exists.
"""
from __future__ import annotations

import numpy as np

try:
    import numba
except ImportError as e:  # pragma: no cover - exercised only without numba
    raise ImportError("backend='numba' needs numba: pip install 'attocore[numba]'") from e

from ..graph_summary import summarize
from ..tensor_ops_ref import TENSOR_OPS
from .base import Backend


@numba.njit(cache=True, fastmath=False)
def _conv2d(x, w, b, kernel, stride, pad, dilation, groups, act, out):
    n_batch, cin, h, wd = x.shape
    cout, cin_g, kh, kw = w.shape
    _, _, oh, ow = out.shape
    cout_g = cout // groups
    for n in range(n_batch):
        for oc in range(cout):
            g = oc // cout_g
            acc = np.full((oh, ow), b[oc], dtype=np.float32)
            for ci in range(cin_g):
                plane = x[n, g * cin_g + ci]
                for ky in range(kh):
                    for kx in range(kw):
                        wv = w[oc, ci, ky, kx]
                        for oy in range(oh):
                            iy = oy * stride[0] - pad[0] + ky * dilation[0]
                            if iy < 0 or iy >= h:
                                continue
                            for ox in range(ow):
                                ix = ox * stride[1] - pad[1] + kx * dilation[1]
                                if ix >= 0 and ix < wd:
                                    acc[oy, ox] += wv * plane[iy, ix]
            out[n, oc] = _activate(acc, act)


@numba.njit(cache=True)
def _activate(a, act):
    if act == 1:
        return np.maximum(a, np.float32(0))
    if act == 2:
        return np.minimum(np.maximum(a, np.float32(0)), np.float32(6))
    return a


@numba.njit(cache=True)
def _maxpool2d(x, kernel, stride, pad, act, out):
    n_batch, c, h, wd = x.shape
    _, _, oh, ow = out.shape
    for n in range(n_batch):
        for ch in range(c):
            for oy in range(oh):
                for ox in range(ow):
                    m = -np.inf
                    for ky in range(kernel[0]):
                        iy = oy * stride[0] - pad[0] + ky
                        for kx in range(kernel[1]):
                            ix = ox * stride[1] - pad[1] + kx
                            if 0 <= iy < h and 0 <= ix < wd and x[n, ch, iy, ix] > m:
                                m = x[n, ch, iy, ix]
                    out[n, ch, oy, ox] = m
    out[:] = _activate(out, act)


_ACT = {"none": 0, "relu": 1, "relu6": 2, "sigmoid": 3, "hardsigmoid": 4, "hardswish": 5, "silu": 6, "tanh": 7}


class NumbaBackend(Backend):
    kind = "numba"

    def __init__(self, graph):
        self.graph = graph

    @property
    def threads(self) -> int:
        return 1  # the kernels are jitted without parallel loops

    @property
    def macs(self) -> int:
        return summarize(self.graph).macs

    def run(self, x: np.ndarray) -> np.ndarray:
        g = self.graph
        values = {g.inputs[0]: x}
        batch = x.shape[0]
        for op in g.ops:
            ins = [g.tensors[n].data if g.tensors[n].is_constant else values[n] for n in op.inputs]
            shape = (batch,) + tuple(g.tensors[op.outputs[0]].shape[1:])
            act = _ACT[op.activation]
            if op.type == "conv2d":
                out = np.empty(shape, np.float32)
                bias = ins[2] if len(ins) == 3 else np.zeros(shape[1], np.float32)
                pad = op.attrs["pad"]
                if pad[0] != pad[2] or pad[1] != pad[3]:
                    xin = np.pad(ins[0], ((0, 0), (0, 0), (pad[0], pad[2]), (pad[1], pad[3])))
                    pad = (0, 0)
                else:
                    xin = ins[0]
                _conv2d(np.ascontiguousarray(xin), np.ascontiguousarray(ins[1]), np.ascontiguousarray(bias),
                        np.array(op.attrs["kernel"]), np.array(op.attrs["stride"]), np.array(pad[:2]),
                        np.array(op.attrs.get("dilation", (1, 1))), op.attrs["groups"][0], act, out)
            elif op.type == "maxpool2d":
                pt, pl, pb, pr = op.attrs["pad"]
                xin = np.pad(ins[0], ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=-np.inf)
                out = np.empty(shape, np.float32)
                _maxpool2d(xin, np.array(op.attrs["kernel"]), np.array(op.attrs["stride"]),
                           np.zeros(2, np.int64), act, out)
            elif op.type == "avgpool2d":
                out = _np_act(_avgpool2d(ins[0], op.attrs["kernel"], op.attrs["stride"], op.attrs["pad"],
                                         op.attrs.get("count_include_pad", (0,))[0], shape), act)
            elif op.type == "global_avgpool":
                out = _np_act(ins[0].mean(axis=(2, 3), dtype=np.float64).astype(np.float32), act)
            elif op.type == "fully_connected":
                out = ins[0] @ ins[1].T
                if len(ins) == 3:
                    out = out + ins[2]
                out = _np_act(out.astype(np.float32), act)
            elif op.type == "add":
                out = _np_act(ins[0] + ins[1], act)
            elif op.type == "activation":
                out = _np_act(ins[0], act)
            elif op.type == "mul":  # same shape, or an (N, C) scale per channel of a 4-D x
                scale = ins[1] if ins[1].shape == ins[0].shape else ins[1][:, :, None, None]
                out = _np_act((ins[0] * scale).astype(np.float32), act)
            elif op.type in TENSOR_OPS:
                out = _np_act(TENSOR_OPS[op.type](op, ins, g.tensors[op.outputs[0]].shape).astype(np.float32), act)
            else:  # validate() refuses unknown ops before we get here
                raise AssertionError(op.type)
            values[op.outputs[0]] = out
        if len(g.outputs) == 1:
            return values[g.outputs[0]]
        return tuple(values[n] for n in g.outputs)


def _avgpool2d(x, kernel, stride, pad, include_pad, shape):
    """Average over the window; padding counts in the divisor only with count_include_pad."""
    pt, pl, pb, pr = pad
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    ones = np.pad(np.ones(x.shape[2:], np.float32), ((pt, pb), (pl, pr)))
    out = np.zeros(shape, np.float64)
    count = np.zeros(shape[2:], np.float64)
    oh, ow = shape[2], shape[3]
    for ky in range(kernel[0]):
        for kx in range(kernel[1]):
            ys = slice(ky, ky + stride[0] * (oh - 1) + 1, stride[0])
            xs = slice(kx, kx + stride[1] * (ow - 1) + 1, stride[1])
            out += xp[:, :, ys, xs]
            count += ones[ys, xs] if not include_pad else 1.0
    return (out / count).astype(np.float32)


def _np_act(a, act):
    """The activation in float32, with csrc/kernels/eltwise/activation.h's formulas (the smooth
    ones only reach here from an activation op: validate() keeps them off the others)."""
    if act == 1:
        return np.maximum(a, 0)
    if act == 2:
        return np.clip(a, 0, 6)
    one, three, six = np.float32(1), np.float32(3), np.float32(6)
    with np.errstate(over="ignore"):  # exp(-v) overflows to inf for v < -88: sigmoid -> 0, as in C++
        if act == 3:
            return (one / (one + np.exp(-a))).astype(np.float32)
        if act == 4:
            return (np.clip(a + three, 0, six) / six).astype(np.float32)
        if act == 5:
            return (a * (np.clip(a + three, 0, six) / six)).astype(np.float32)
        if act == 6:
            return (a / (one + np.exp(-a))).astype(np.float32)
        if act == 7:
            return np.tanh(a).astype(np.float32)
    return a
