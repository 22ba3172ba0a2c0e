"""numpy definitions of the tensor ops of docs/FORMAT.md codes 11-23 (concat, slice, channel
shuffle, resize, softmax, transposed convolution, PReLU, pad, clip, reshape, transpose,
eltwise_const, reduce_mean), NCHW, written from the op definitions and independently of the
C++ kernels (the transposed convolution scatters where the C++ reference gathers; the C++
layout ops work on NHWC storage): the numba backend's and the quantizer's float interpreter.

TENSOR_OPS[op.type](op, inputs, out_shape) -> the output before the op's activation; inputs
are the op's inputs in order, constants included; out_shape is the output tensor's shape in
the graph (batch 1: a reshape takes its target from it).
"""
from __future__ import annotations

import numpy as np


def _resize(op, ins):
    x = ins[0]
    sh, sw = op.attrs["scale"]
    if op.attrs["mode"][0] == 0:  # nearest: out[y] = in[y // s]
        return np.repeat(np.repeat(x, sh, axis=2), sw, axis=3)
    out = x
    for axis, s in ((2, sh), (3, sw)):  # bilinear, separable, half-pixel centres clamped at the edges
        size = out.shape[axis]
        src = np.maximum((np.arange(size * s, dtype=np.float32) + np.float32(0.5)) / np.float32(s) - np.float32(0.5),
                         np.float32(0))
        lo = np.minimum(src.astype(np.int64), size - 1)
        hi = np.minimum(lo + 1, size - 1)
        frac = (src - lo).astype(np.float32)
        shape = [1, 1, 1, 1]
        shape[axis] = -1
        a, b = np.take(out, lo, axis=axis), np.take(out, hi, axis=axis)
        out = a + (b - a) * frac.reshape(shape)
    return out


def _conv_transpose(op, ins):
    """Scattered, each input pixel's window added into place (the C++ reference gathers)."""
    x, w = ins[0], ins[1].astype(np.float64)
    n, cin, h, wd = x.shape
    (groups,) = op.attrs["groups"]
    kh, kw = op.attrs["kernel"]
    sh, sw = op.attrs["stride"]
    pt, pl, pb, pr = op.attrs["pad"]
    dh, dw = op.attrs.get("dilation", (1, 1))
    oph, opw = op.attrs.get("output_pad", (0, 0))
    cog, cig = w.shape[1], cin // groups
    oh = (h - 1) * sh - pt - pb + dh * (kh - 1) + 1 + oph
    ow = (wd - 1) * sw - pl - pr + dw * (kw - 1) + 1 + opw
    full = np.zeros((n, cog * groups, max((h - 1) * sh + dh * (kh - 1) + 1, pt + oh),
                     max((wd - 1) * sw + dw * (kw - 1) + 1, pl + ow)))
    for g in range(groups):
        xg = x[:, g * cig:(g + 1) * cig].astype(np.float64)
        for ky in range(kh):
            for kx in range(kw):
                part = np.einsum("nchw,co->nohw", xg, w[g * cig:(g + 1) * cig, :, ky, kx])
                full[:, g * cog:(g + 1) * cog, ky * dh:ky * dh + (h - 1) * sh + 1:sh,
                     kx * dw:kx * dw + (wd - 1) * sw + 1:sw] += part
    out = full[:, :, pt:pt + oh, pl:pl + ow]
    if len(ins) == 3:
        out = out + ins[2].reshape(1, -1, 1, 1)
    return out


def _axis(op) -> int:
    return op.attrs.get("axis", (1,))[0]


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True, dtype=np.float64)


def _slice(op, ins, out_shape):
    begin, end = op.attrs["channels"]
    return ins[0][(slice(None),) * _axis(op) + (slice(begin, end),)]


def _eltwise_const(op, ins, out_shape):
    x, c = ins
    kind, swap = op.attrs["kind"][0], op.attrs.get("swap", (0,))[0]
    a, b = (c, x) if swap else (x, c)
    return [np.add, np.subtract, np.multiply, np.divide][kind](a, b)


def _reduce_mean(op, ins, out_shape):
    (axes,) = op.attrs["axes"]
    dims = tuple(k for k in range(1, ins[0].ndim) if axes >> k & 1)
    return ins[0].mean(axis=dims, keepdims=True, dtype=np.float64)


def _channel_shuffle(op, ins):
    x = ins[0]
    (g,) = op.attrs["groups"]
    n, c, h, w = x.shape
    return x.reshape(n, g, c // g, h, w).transpose(0, 2, 1, 3, 4).reshape(n, c, h, w)


def _prelu(op, ins):
    x, slope = ins
    slope = slope.reshape((1, -1) + (1,) * (x.ndim - 2)) if slope.size > 1 else slope.reshape(())
    return np.where(x < 0, x * slope, x)


def _pad(op, ins):
    pt, pl, pb, pr = op.attrs["pad"]
    return np.pad(ins[0], ((0, 0), (0, 0), (pt, pb), (pl, pr)))


TENSOR_OPS = {
    "concat": lambda op, ins, out_shape: np.concatenate(ins, axis=_axis(op)),
    "slice": _slice,
    "channel_shuffle": lambda op, ins, out_shape: _channel_shuffle(op, ins),
    "resize": lambda op, ins, out_shape: _resize(op, ins),
    "softmax": lambda op, ins, out_shape: _softmax(ins[0], _axis(op)),
    "conv_transpose": lambda op, ins, out_shape: _conv_transpose(op, ins),
    "prelu": lambda op, ins, out_shape: _prelu(op, ins),
    "pad": lambda op, ins, out_shape: _pad(op, ins),
    "clip": lambda op, ins, out_shape: np.minimum(np.maximum(ins[0], ins[1][0]), ins[1][1]),
    "reshape": lambda op, ins, out_shape: ins[0].reshape((ins[0].shape[0],) + tuple(out_shape[1:])),
    "transpose": lambda op, ins, out_shape: ins[0].transpose(op.attrs["perm"][:ins[0].ndim]),
    "eltwise_const": _eltwise_const,
    "reduce_mean": _reduce_mean,
}
