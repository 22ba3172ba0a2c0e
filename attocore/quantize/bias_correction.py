"""Bias correction (docs/QUANTIZATION.md): rounding a layer's weights to int8 shifts the mean of
each output channel by sum_k (W - Wq)[o, k] * E[x_k], which every later layer then carries;
adding that shift back into the int32 bias removes it (NNCF's fast bias correction, Nagel et
al. 2019's analytic form). E[x] is each input channel's mean over the calibration inputs in
the float model (a convolution's taps outside the image see zero padding, not the mean: the
correction is exact for 1x1 convolutions and fully connected layers, close elsewhere).
Measured on the random-weight AttoNets: +5 dB of logits SQNR (docs/DECISIONS.md)."""
from __future__ import annotations

import dataclasses

import numpy as np

from ..graph import MAX_INT8_BIAS, Graph, Tensor
from .transform import graph_in_use_order

LAYERS = ("conv2d", "fully_connected")


def inputs_to_average(graph: Graph, chosen: set) -> set:
    """The float tensors whose channel means the correction needs: the inputs of the
    convolutions and fully connected layers that become int8."""
    return {op.inputs[0] for op in graph.ops if op.name in chosen and op.type in LAYERS}


class ChannelMeans:
    """Running per-channel means (dimension 1; every element of a 2-D input)."""

    def __init__(self):
        self.sums, self.counts = {}, {}

    def update(self, name: str, x: np.ndarray) -> None:
        axes = (0,) + tuple(range(2, x.ndim))
        s = x.astype(np.float64).sum(axis=axes)
        self.sums[name] = self.sums.get(name, 0.0) + s
        self.counts[name] = self.counts.get(name, 0) + x.size // x.shape[1]

    def mean(self, name: str) -> np.ndarray:
        return self.sums[name] / self.counts[name]


def _mean_error(w: np.ndarray, wq: np.ndarray, mean: np.ndarray, groups: int) -> np.ndarray:
    """Per output channel: sum over its inputs and taps of (w - wq) * the input's mean."""
    err = (w.astype(np.float64) - wq).reshape(w.shape[0], w.shape[1], -1).sum(axis=2)  # [O, Cin/groups]
    out_c, cin_g = err.shape
    per_group = out_c // groups
    channel = (np.arange(out_c) // per_group)[:, None] * cin_g + np.arange(cin_g)[None, :]
    return (err * mean[channel]).sum(axis=1)


def correct_biases(float_graph: Graph, int8_graph: Graph, means: ChannelMeans) -> Graph:
    """int8_graph with each int8 layer's int32 bias corrected (a layer without one gets one)."""
    float_ops = {op.name: op for op in float_graph.ops}
    tensors = dict(int8_graph.tensors)
    ops = []
    for op in int8_graph.ops:
        w8 = tensors[op.inputs[1]] if len(op.inputs) > 1 else None
        fop = float_ops.get(op.name)
        if op.type not in LAYERS or w8 is None or w8.dtype != "int8" or fop is None or fop.inputs[0] not in means.sums:
            ops.append(op)
            continue
        w = float_graph.tensors[fop.inputs[1]].data
        sw = np.asarray(w8.scales, np.float64)
        wq = w8.data.astype(np.float64) * sw.reshape((-1,) + (1,) * (w.ndim - 1))
        mean = means.mean(fop.inputs[0])
        if op.type == "fully_connected":
            if mean.size != w.shape[1]:  # a flattened NCHW input: each channel's mean over its pixels
                mean = np.repeat(mean, w.shape[1] // mean.size)
            shift = (w.astype(np.float64) - wq) @ mean
        else:
            shift = _mean_error(w, wq, mean, op.attrs.get("groups", (1,))[0])
        sx = float(tensors[op.inputs[0]].scales[0])
        step = shift / (sx * sw)  # in the bias's units
        inputs = list(op.inputs)
        if len(inputs) == 3:
            old = tensors[inputs[2]]
            bias = old.data.astype(np.float64)
            name = old.name
        else:
            bias = np.zeros(w.shape[0])
            name = f"{op.name}.bias"
            while name in tensors:
                name += "_"
            inputs.append(name)
        new = np.clip(np.rint(bias + step), -MAX_INT8_BIAS, MAX_INT8_BIAS).astype(np.int32)
        tensors[name] = Tensor(name, (w.shape[0],), new, "int32")
        ops.append(dataclasses.replace(op, inputs=inputs))
    return graph_in_use_order(int8_graph.metadata, tensors, ops, list(int8_graph.inputs), list(int8_graph.outputs))
