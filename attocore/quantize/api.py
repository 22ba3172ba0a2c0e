"""attocore.quantize() and attocore.compare()."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .. import format as fmt
from ..errors import InputError
from ..output_file import check_output_path, write_atomically
from . import evaluate
from .bias_correction import ChannelMeans, correct_biases, inputs_to_average
from .calibrate import METHODS, Observer
from .data import batches
from .transform import int8_ops, quantize_graph


def _progress(iterable, total, what: str, quiet: bool):
    if quiet:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:  # progress is a nicety: tqdm is in the package's dependencies
        return iterable
    return tqdm(iterable, total=total, desc=what, unit="batch", leave=False)


def calibrate(graph, calibration, method: str = "minmax", keep_float=None, quiet: bool = False,
              means: ChannelMeans | None = None) -> dict:
    """Tensor name -> (lo, hi) over the calibration inputs, for every tensor an int8 op reads
    or writes; with `means`, also the channel means bias correction needs, in the same pass."""
    if method not in METHODS:
        raise ValueError(f"unknown calibration method '{method}'; choose one of {METHODS}")
    chosen = int8_ops(graph, keep_float)
    wanted = set()
    for op in graph.ops:
        if op.name in chosen:
            wanted.update(n for n in op.inputs + op.outputs if not graph.tensors[n].is_constant)
    observers = {n: Observer(method) for n in wanted}
    averaged = inputs_to_average(graph, chosen) if means is not None else set()
    it, count = batches(calibration, graph.metadata)
    seen = 0
    bar = _progress(it, count, "calibrating", quiet)
    try:
        for x in bar:
            env = evaluate.evaluate(graph, x, keep=wanted)
            for n, obs in observers.items():
                obs.update(env[n])
            for n in averaged:
                means.update(n, env[n])
            seen += 1
    finally:
        if hasattr(bar, "close"):
            bar.close()  # clears its line, so an error message after it starts a line of its own
    if seen == 0:
        raise InputError("no calibration inputs given")
    return {n: obs.range() for n, obs in observers.items()}, chosen, seen


def quantize(model, calibration, out=None, method: str = "minmax", keep_float=None, quiet: bool = False,
             bias_correction: bool = True):
    """An int8 copy of a float model (docs/QUANTIZATION.md), calibrated on `calibration`: a
    directory of images, a list of image paths or arrays, or an iterable of float32 NCHW
    batches. method: "minmax", "percentile" or "entropy". keep_float: names of ops to leave
    in float32 (default: the first convolution, which reads the image; () quantizes every op
    with an int8 kernel). Ops without one (average pools, mul, smooth activations) always stay
    float32. bias_correction: add each int8 layer's mean weight-rounding error back into its
    bias (bias_correction.py; on by default). Writes the int8 weight file to `out` if given;
    returns the loaded Model."""
    from ..model import load, read_graph

    if out is not None:
        out = check_output_path(out)
        if isinstance(model, (str, os.PathLike)) and os.path.exists(out) and os.path.exists(model) and \
                os.path.samefile(out, model):
            raise InputError(f"the output '{out}' is the model itself: write the int8 model to another file")
    graph = read_graph(model)
    if any(t.dtype != "float32" for t in graph.tensors.values()):
        raise InputError(f"model '{graph.metadata.name}' is already quantized")
    means = ChannelMeans() if bias_correction else None
    ranges, chosen, seen = calibrate(graph, calibration, method, keep_float, quiet, means=means)
    note = f"{method} over {seen} calibration inputs" + (", bias corrected" if bias_correction else "")
    qgraph = quantize_graph(graph, ranges, chosen, note=note)
    if bias_correction:
        qgraph = correct_biases(graph, qgraph, means)
    fmt.validate(qgraph)
    data = fmt.encode(qgraph)
    if out is not None:
        write_atomically(out, data)
    return load(out if out is not None else data)


@dataclass
class Comparison:
    sqnr_db: float          # 10 log10(signal power / error power) of b's outputs against a's
    max_abs_error: float
    top1_agreement: float   # fraction of inputs whose arg max agree
    inputs: int

    def __str__(self):
        return (f"SQNR {self.sqnr_db:.1f} dB, max |error| {self.max_abs_error:.4g}, top-1 agreement "
                f"{100 * self.top1_agreement:.1f}% over {self.inputs} inputs")


def first_output(y) -> np.ndarray:
    """A run's array, or the first of a model with several outputs (a tuple)."""
    return y[0] if isinstance(y, tuple) else y


def sqnr_db(reference: np.ndarray, other: np.ndarray) -> float:
    ref = reference.astype(np.float64)
    noise = float(np.sum((ref - other.astype(np.float64)) ** 2))
    signal = float(np.sum(ref ** 2))
    if noise == 0:
        return float("inf")
    return 10 * np.log10(signal / noise) if signal > 0 else float("-inf")


def compare(a, b, inputs) -> Comparison:
    """How far model b's outputs are from model a's (the reference) on `inputs` (as for
    quantize's calibration): SQNR, largest error, top-1 agreement (of the first output, for a
    model with several)."""
    from ..model import load

    ma, mb = load(a), load(b)
    it, _ = batches(inputs, ma.metadata)
    ya, yb = [], []
    for x in it:
        ya.append(first_output(ma.run(x)))
        yb.append(first_output(mb.run(x)))
    if not ya:
        raise InputError("no inputs to compare on")
    ya, yb = np.concatenate(ya), np.concatenate(yb)
    return Comparison(sqnr_db(ya, yb), float(np.abs(ya - yb).max()),
                      float(np.mean(ya.reshape(len(ya), -1).argmax(1) == yb.reshape(len(yb), -1).argmax(1))), len(ya))
