"""The in-memory graph shared by the format writer/reader, the zoo, summary and numba backend.

Activation tensors carry NCHW shapes with the batch dimension stored as 1; a runtime
executes any batch size N by replacing that leading 1 with N.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import FormatError, GraphError, ResourceLimitError, UnsupportedOpError

# Op names and their codes in the weight format (docs/FORMAT.md).
OP_CODES = {
    "conv2d": 1,
    "maxpool2d": 2,
    "global_avgpool": 3,
    "fully_connected": 4,
    "add": 5,
    "activation": 6,
    "avgpool2d": 7,
    "mul": 8,
    "quantize": 9,
    "dequantize": 10,
    "concat": 11,
    "slice": 12,
    "channel_shuffle": 13,
    "resize": 14,
    "softmax": 15,
    "conv_transpose": 16,
    "prelu": 17,
    "pad": 18,
    "clip": 19,
    "reshape": 20,
    "transpose": 21,
    "eltwise_const": 22,
    "reduce_mean": 23,
}
OP_NAMES = {v: k for k, v in OP_CODES.items()}

ACTIVATION_CODES = {"none": 0, "relu": 1, "relu6": 2, "sigmoid": 3, "hardsigmoid": 4, "hardswish": 5, "silu": 6,
                    "tanh": 7}
# The kernels' epilogues clamp: these may ride on any op; the others only on an activation op.
CLAMP_ACTIVATIONS = ("none", "relu", "relu6")
ACTIVATION_NAMES = {v: k for k, v in ACTIVATION_CODES.items()}

# Attribute keys each op accepts, with the number of integers each one holds.
OP_ATTRS = {
    "conv2d": {"kernel": 2, "stride": 2, "pad": 4, "dilation": 2, "groups": 1},
    "maxpool2d": {"kernel": 2, "stride": 2, "pad": 4},
    "global_avgpool": {},
    "fully_connected": {},
    "add": {},
    "activation": {},
    "avgpool2d": {"kernel": 2, "stride": 2, "pad": 4, "count_include_pad": 1},
    "mul": {},
    "quantize": {},
    "dequantize": {},
    "concat": {"axis": 1},
    "slice": {"channels": 2, "axis": 1},
    "channel_shuffle": {"groups": 1},
    "resize": {"scale": 2, "mode": 1},
    "softmax": {"axis": 1},
    "conv_transpose": {"kernel": 2, "stride": 2, "pad": 4, "dilation": 2, "groups": 1, "output_pad": 2},
    "prelu": {},
    "pad": {"pad": 4},
    "clip": {},
    "reshape": {},
    "transpose": {"perm": 4},
    "eltwise_const": {"kind": 1, "swap": 1},
    "reduce_mean": {"axes": 1},
}
OPTIONAL_ATTRS = {"dilation", "count_include_pad", "output_pad", "axis", "swap"}
ELTWISE_KINDS = {"add": 0, "sub": 1, "mul": 2, "div": 3}  # eltwise_const's `kind`
RESIZE_MODES = {"nearest": 0, "bilinear": 1}  # bilinear: half-pixel centres (align_corners=False)
MAX_ATTR_VALUE = 1 << 20  # every attribute value lies in [0, MAX_ATTR_VALUE] (docs/FORMAT.md)
MAX_GRAPH_OUTPUTS = 16  # the format's limit on graph outputs (docs/FORMAT.md)
MAX_PADDED_ELEMENTS = 1 << 31  # a windowed op's zero-padded input, like any tensor
MAX_DIM = 1 << 24  # csrc/format/limits.h kMaxDim
# Inputs each op takes: (fewest, most); conv2d and fully_connected: input, weight, optional bias.
OP_ARITY = {"conv2d": (2, 3), "fully_connected": (2, 3), "add": (2, 2), "maxpool2d": (1, 1), "avgpool2d": (1, 1),
            "global_avgpool": (1, 1), "activation": (1, 1), "mul": (2, 2), "quantize": (1, 1), "dequantize": (1, 1),
            "concat": (2, 16), "slice": (1, 1), "channel_shuffle": (1, 1), "resize": (1, 1), "softmax": (1, 1),
            "conv_transpose": (2, 3), "prelu": (2, 2), "pad": (1, 1), "clip": (2, 2), "reshape": (1, 1),
            "transpose": (1, 1), "eltwise_const": (2, 2), "reduce_mean": (1, 1)}
# Inputs that must be constants (every other input is an activation): weights and biases, a
# PReLU's slopes, a clip's [low, high], an eltwise_const's operand.
CONSTANT_SLOTS = {"conv2d": (1, 2), "fully_connected": (1, 2), "conv_transpose": (1, 2), "prelu": (1,), "clip": (1,),
                  "eltwise_const": (1,)}
# Ops that run on float32 only (UnsupportedOpError for int8 operands: dequantize first).
FLOAT_ONLY_OPS = ("activation", "avgpool2d", "mul", "concat", "slice", "channel_shuffle", "resize", "softmax",
                  "conv_transpose", "prelu", "pad", "clip", "reshape", "transpose", "eltwise_const", "reduce_mean")

# Element types (format v2, docs/QUANTIZATION.md): int8 tensors carry scales and a zero point.
DTYPES = {"float32": np.float32, "int8": np.int8, "int32": np.int32}
DTYPE_CODES = {"float32": 1, "int8": 2, "int32": 3}
DTYPE_NAMES = {v: k for k, v in DTYPE_CODES.items()}
MAX_INT8_REDUCTION = 32768  # csrc/kernels/qgemm/qgemm.h kMaxInt8Reduction
MAX_INT8_BIAS = 1 << 30
MIN_MULTIPLIER, MAX_MULTIPLIER = np.float32(2.0 ** -40), np.float32(2.0 ** 20)


@dataclass
class Tensor:
    name: str
    shape: tuple
    data: np.ndarray | None = None  # float32, int8 or int32 for constants, None for activations
    dtype: str = ""  # "float32", "int8", "int32"; a constant's defaults to its data's
    scales: tuple = ()  # int8: one scale, or one per dimension-0 slice of a constant
    zero_point: int = 0

    def __post_init__(self):
        if not self.dtype:
            self.dtype = np.dtype(self.data.dtype).name if self.data is not None else "float32"

    @property
    def is_constant(self) -> bool:
        return self.data is not None


class DeferredConstant(Tensor):
    """A constant whose data is fetched on first use of `.data`: the graph of a model on the
    native backend keeps the structure only, its weights living packed in the executor.

    fetch(name) returns the float32 array of that shape (attocore.model decides from where).
    """

    def __init__(self, name: str, shape: tuple, fetch, dtype: str = "float32", scales: tuple = (),
                 zero_point: int = 0):
        self.name, self.shape, self._fetch, self._data = name, tuple(shape), fetch, None
        self.dtype, self.scales, self.zero_point = dtype, tuple(scales), zero_point

    @property
    def data(self) -> np.ndarray:
        if self._data is None:
            data = self._fetch(self.name)
            if data.dtype != DTYPES[self.dtype] or tuple(data.shape) != self.shape:
                raise GraphError(f"constant '{self.name}': fetched data does not match its shape {self.shape}")
            self._data = data
        return self._data

    @data.setter
    def data(self, value):
        self._data = value

    @property
    def is_constant(self) -> bool:
        return True

    @property
    def fetched(self) -> bool:
        return self._data is not None

    def __repr__(self):
        return f"DeferredConstant(name={self.name!r}, shape={self.shape!r}, fetched={self.fetched})"


@dataclass
class Op:
    type: str
    name: str
    inputs: list
    outputs: list
    attrs: dict = field(default_factory=dict)
    activation: str = "none"


@dataclass
class Metadata:
    name: str = "model"
    input_shape: tuple = (3, 224, 224)  # C, H, W
    mean: tuple = (0.485, 0.456, 0.406)
    std: tuple = (0.229, 0.224, 0.225)
    resize: int = 256  # shorter side before the centre crop; 0 = resize straight to H x W
    labels: tuple = ()
    extra: dict = field(default_factory=dict)  # free-form string key/values


@dataclass
class Graph:
    metadata: Metadata
    tensors: dict  # name -> Tensor, in file order
    ops: list
    inputs: list
    outputs: list

    def constant(self, name: str) -> np.ndarray:
        return self.tensors[name].data


def check_attribute(op: Op, key: str, values: tuple) -> None:
    """One attribute against the op's rules, in csrc/format/validate.cpp's order: a key the op
    has, the value count that key takes, each value in range."""
    if key not in OP_ATTRS[op.type]:
        raise GraphError(f"op '{op.name}' ({op.type}): unknown attribute '{key}'")
    if len(values) != OP_ATTRS[op.type][key]:
        raise GraphError(f"op '{op.name}' ({op.type}): attribute '{key}' holds {len(values)} values, "
                         f"not {OP_ATTRS[op.type][key]}")
    if any(not 0 <= v <= MAX_ATTR_VALUE for v in values):
        raise GraphError(f"op '{op.name}' ({op.type}): attribute '{key}' value out of range")
    if key == "count_include_pad" and values[0] > 1:
        raise GraphError(f"op '{op.name}' ({op.type}): attribute 'count_include_pad' must be 0 or 1")
    if key == "mode" and values[0] > 1:
        raise GraphError(f"op '{op.name}' ({op.type}): attribute 'mode' must be 0 (nearest) or 1 (bilinear)")
    if key == "kind" and values[0] > 3:
        raise GraphError(f"op '{op.name}' ({op.type}): attribute 'kind' must be 0 (add), 1 (sub), 2 (mul) or 3 (div)")
    if key == "swap" and values[0] > 1:
        raise GraphError(f"op '{op.name}' ({op.type}): attribute 'swap' must be 0 or 1")


def _padded_input_fits(x: tuple, pads: tuple) -> bool:
    pt, pl, pb, pr = pads
    return x[1] * (x[2] + pt + pb) * (x[3] + pl + pr) <= MAX_PADDED_ELEMENTS


def conv_output_size(size: int, kernel: int, stride: int, pad_lo: int, pad_hi: int, dilation: int = 1) -> int:
    return (size + pad_lo + pad_hi - dilation * (kernel - 1) - 1) // stride + 1


def infer_output_shape(graph: Graph, op: Op) -> tuple:
    """Shape of op's output given its inputs' shapes; raises GraphError on inconsistency."""
    def shape(i):
        return graph.tensors[op.inputs[i]].shape

    def need(cond, msg):
        if not cond:
            raise GraphError(f"op '{op.name}' ({op.type}): {msg}")

    def window():  # a convolution's (plain or transposed) input, weight and window attributes
        x, w = shape(0), shape(1)
        need(len(x) == 4 and len(w) == 4, "input and weight must be 4-D")
        a = op.attrs
        return x, w, a["kernel"], a["stride"], a["pad"], a.get("dilation", (1, 1)), a["groups"][0]

    if op.type == "conv2d":
        need(len(op.inputs) in (2, 3), "takes input, weight and optional bias")
        x, w, (kh, kw), (sh, sw), (pt, pl, pb, pr), (dh, dw), groups = window()
        need(min(kh, kw, sh, sw, dh, dw, groups) >= 1 and min(pt, pl, pb, pr) >= 0, "bad attribute values")
        need(x[1] % groups == 0 and w[0] % groups == 0, f"groups={groups} does not divide channels")
        need(w == (w[0], x[1] // groups, kh, kw), f"weight shape {w} does not fit input {x}")
        if not _padded_input_fits(x, (pt, pl, pb, pr)):
            raise ResourceLimitError(f"op '{op.name}' ({op.type}): the padded input has more than 2^31 elements")
        if len(op.inputs) == 3:
            need(shape(2) == (w[0],), f"bias shape {shape(2)} != ({w[0]},)")
        oh = conv_output_size(x[2], kh, sh, pt, pb, dh)
        ow = conv_output_size(x[3], kw, sw, pl, pr, dw)
        need(oh >= 1 and ow >= 1, "output would be empty")
        return (x[0], w[0], oh, ow)
    if op.type in ("maxpool2d", "avgpool2d"):
        need(len(op.inputs) == 1, "takes one input")
        x = shape(0)
        need(len(x) == 4, "input must be 4-D")
        kh, kw = op.attrs["kernel"]
        sh, sw = op.attrs["stride"]
        pt, pl, pb, pr = op.attrs["pad"]
        need(min(kh, kw, sh, sw) >= 1 and max(pt, pb) < kh and max(pl, pr) < kw, "bad attribute values")
        if not _padded_input_fits(x, (pt, pl, pb, pr)):
            raise ResourceLimitError(f"op '{op.name}' ({op.type}): the padded input has more than 2^31 elements")
        oh = conv_output_size(x[2], kh, sh, pt, pb)
        ow = conv_output_size(x[3], kw, sw, pl, pr)
        need(oh >= 1 and ow >= 1, "output would be empty")
        return (x[0], x[1], oh, ow)
    if op.type == "global_avgpool":
        need(len(op.inputs) == 1 and len(shape(0)) == 4, "takes one 4-D input")
        return (shape(0)[0], shape(0)[1])
    if op.type == "fully_connected":
        need(len(op.inputs) in (2, 3), "takes input, weight and optional bias")
        x, w = shape(0), shape(1)
        need(len(x) == 2 and len(w) == 2 and w[1] == x[1], f"weight {w} does not fit input {x}")
        if len(op.inputs) == 3:
            need(shape(2) == (w[0],), f"bias shape {shape(2)} != ({w[0]},)")
        return (x[0], w[0])
    if op.type == "add":
        need(len(op.inputs) == 2 and shape(0) == shape(1), "takes two inputs of one shape")
        return shape(0)
    if op.type in ("activation", "quantize", "dequantize"):
        need(len(op.inputs) == 1, "takes one input")
        return shape(0)
    if op.type == "concat":  # along `axis` (the channels by default)
        xs = [tuple(shape(i)) for i in range(len(op.inputs))]
        axis = op.attrs.get("axis", (1,))[0]
        need(2 <= len(xs[0]) <= 4 and 1 <= axis < len(xs[0]) and
             all(len(x) == len(xs[0]) and x[:axis] + x[axis + 1:] == xs[0][:axis] + xs[0][axis + 1:] for x in xs),
             f"takes 2-D to 4-D inputs alike but along axis {axis}, not {xs}")
        if sum(x[axis] for x in xs) > MAX_DIM:
            raise ResourceLimitError(f"op '{op.name}' ({op.type}): the output is too long along its axis")
        return xs[0][:axis] + (sum(x[axis] for x in xs),) + xs[0][axis + 1:]
    if op.type == "slice":  # [begin, end) along `axis` (the channels by default)
        x = tuple(shape(0))
        begin, end = op.attrs["channels"]
        axis = op.attrs.get("axis", (1,))[0]
        need(2 <= len(x) <= 4 and 1 <= axis < len(x) and 0 <= begin < end <= x[axis],
             f"[{begin}, {end}) along axis {axis} of {x}")
        return x[:axis] + (end - begin,) + x[axis + 1:]
    if op.type == "channel_shuffle":
        x = tuple(shape(0))
        (groups,) = op.attrs["groups"]
        need(len(x) == 4 and groups >= 1 and x[1] % groups == 0, f"groups={groups} of a {x} input")
        return x
    if op.type == "resize":
        x = tuple(shape(0))
        sh, sw = op.attrs["scale"]
        need(len(x) == 4 and sh >= 1 and sw >= 1, f"scale {sh}x{sw} of a {x} input")
        if x[2] * sh > 1 << 24 or x[3] * sw > 1 << 24 or x[1] * x[2] * sh * x[3] * sw > MAX_PADDED_ELEMENTS:
            raise ResourceLimitError(f"op '{op.name}' ({op.type}): the output has more than 2^31 elements")
        return (x[0], x[1], x[2] * sh, x[3] * sw)
    if op.type == "softmax":  # along `axis` (the channels by default)
        axis = op.attrs.get("axis", (1,))[0]
        need(2 <= len(shape(0)) <= 4 and 1 <= axis < len(shape(0)),
             f"takes a 2-D to 4-D input and an axis in it other than the batch, not axis {axis} of {tuple(shape(0))}")
        return tuple(shape(0))
    if op.type == "reshape":  # to its output tensor's shape
        x, y = tuple(shape(0)), tuple(graph.tensors[op.outputs[0]].shape)
        need(2 <= len(x) <= 4 and 2 <= len(y) <= 4, f"reshapes 2-D to 4-D tensors, not {x} to {y}")
        need(y[0] == x[0] and int(np.prod(x, dtype=np.int64)) == int(np.prod(y, dtype=np.int64)),
             f"cannot reshape {x} to {y} (the batch and the element count stay)")
        return y
    if op.type == "transpose":
        x, perm = tuple(shape(0)), tuple(op.attrs["perm"])
        need(2 <= len(x) <= 4, "takes a 2-D to 4-D input")
        need(perm[0] == 0 and sorted(perm[:len(x)]) == list(range(len(x))) and
             perm[len(x):] == tuple(range(len(x), 4)),
             f"perm {perm} is not a permutation of a {x} input's dimensions keeping the batch first (unused ones "
             f"in place)")
        return tuple(x[p] for p in perm[:len(x)])
    if op.type == "eltwise_const":
        x, c = tuple(shape(0)), tuple(shape(1))
        need(2 <= len(x) <= 4 and 1 <= len(c) <= len(x) and (len(c) < len(x) or c[0] == 1) and
             all(c[-k] in (1, x[-k]) for k in range(1, len(c) + 1)),
             f"a constant of shape {c} does not broadcast to a {x} input (one value for every image: its batch "
             f"dimension, if any, is 1)")
        return x
    if op.type == "reduce_mean":
        x, (axes,) = tuple(shape(0)), op.attrs["axes"]
        need(2 <= len(x) <= 4 and axes > 0 and axes & 1 == 0 and axes < 1 << len(x),
             f"axes mask {axes} of a {x} input (bit k averages dimension k; k >= 1, the batch stays)")
        return tuple(1 if axes >> k & 1 else d for k, d in enumerate(x))
    if op.type == "conv_transpose":
        x, w, (kh, kw), (sh, sw), (pt, pl, pb, pr), (dh, dw), groups = window()
        oph, opw = op.attrs.get("output_pad", (0, 0))
        need(min(kh, kw, sh, sw, dh, dw, groups) >= 1 and oph < max(sh, dh) and opw < max(sw, dw),
             "bad attribute values")
        need(x[1] % groups == 0 and w[:1] + w[2:] == (x[1], kh, kw), f"weight shape {w} does not fit input {x} "
                                                                       f"(weight is [in, out / groups, kh, kw])")
        if len(op.inputs) == 3:
            need(shape(2) == (w[1] * groups,), f"bias shape {shape(2)} != ({w[1] * groups},)")
        oh = (x[2] - 1) * sh - pt - pb + dh * (kh - 1) + 1 + oph
        ow = (x[3] - 1) * sw - pl - pr + dw * (kw - 1) + 1 + opw
        need(oh >= 1 and ow >= 1, "output would be empty")
        if oh > 1 << 24 or ow > 1 << 24 or w[1] * groups * oh * ow > MAX_PADDED_ELEMENTS:
            raise ResourceLimitError(f"op '{op.name}' ({op.type}): the output has more than 2^31 elements")
        return (x[0], w[1] * groups, oh, ow)
    if op.type == "prelu":
        x, slope = tuple(shape(0)), tuple(shape(1))
        need(len(x) in (2, 4), f"a {x} input (prelu and leaky relu take 2-D or 4-D tensors)")
        need(slope in ((x[1],), (1,)), f"slopes {slope} for a {x} input (one per channel, or one)")
        return x
    if op.type == "pad":
        x = tuple(shape(0))
        need(len(x) == 4, "takes a 4-D input")
        if not _padded_input_fits(x, op.attrs["pad"]):
            raise ResourceLimitError(f"op '{op.name}' ({op.type}): the padded output has more than 2^31 elements")
        pt, pl, pb, pr = op.attrs["pad"]
        return (x[0], x[1], x[2] + pt + pb, x[3] + pl + pr)
    if op.type == "clip":
        need(tuple(shape(1)) == (2,), f"bounds of shape {tuple(shape(1))} (a constant [low, high])")
        return tuple(shape(0))
    if op.type == "mul":
        x, s = tuple(shape(0)), tuple(shape(1))
        need(len(op.inputs) == 2 and (s == x or (len(x) == 4 and s == (x[0], x[1]))),
             f"takes x and a tensor of its shape or an (N, C) scale per channel, not {x} and {s}")
        return x
    raise GraphError(f"op '{op.name}': unknown op type '{op.type}'")


def validate(graph: Graph) -> None:
    """Check the graph is well formed, in the order of csrc/format/validate.cpp (so a file gets
    the same error class from both readers): attributes, then every op defined once before
    use with operands of the right kind and consistent shapes, then labels and weights."""
    if len(graph.inputs) != 1 or not 1 <= len(graph.outputs) <= MAX_GRAPH_OUTPUTS:
        raise GraphError(f"a graph has exactly one input and 1 to {MAX_GRAPH_OUTPUTS} outputs")
    for t in graph.tensors.values():
        _check_quantization_record(t)
    for t in graph.tensors.values():
        if t.is_constant:
            deferred = isinstance(t, DeferredConstant) and not t.fetched  # checked when fetched
            if not deferred and (t.data.dtype != DTYPES.get(t.dtype) or tuple(t.data.shape) != tuple(t.shape)):
                raise GraphError(f"constant '{t.name}' data does not match its shape {t.shape}")
    for op in graph.ops:
        if op.type not in OP_CODES:
            raise UnsupportedOpError(f"op '{op.name}': unknown op type '{op.type}'")
        if op.activation not in ACTIVATION_CODES:
            raise GraphError(f"op '{op.name}': unknown activation '{op.activation}'")
        for key, vals in op.attrs.items():
            check_attribute(op, key, tuple(vals))
        for key in OP_ATTRS[op.type]:
            if key not in op.attrs and key not in OPTIONAL_ATTRS:
                raise GraphError(f"op '{op.name}' ({op.type}): missing attribute '{key}'")
        if op.type in ("quantize", "dequantize") and op.activation != "none":
            raise GraphError(f"op '{op.name}' ({op.type}): takes no activation, not {op.activation}")
        if op.activation not in CLAMP_ACTIVATIONS and op.type != "activation":
            raise UnsupportedOpError(f"op '{op.name}' ({op.type}): activation {op.activation} only on an activation op")
    name = graph.inputs[0]
    t = graph.tensors.get(name)
    if t is None or t.is_constant or tuple(t.shape) != (1,) + tuple(graph.metadata.input_shape):
        raise GraphError(f"graph input '{name}' shape {t.shape if t else None} does not match the metadata input "
                         f"shape {(1,) + tuple(graph.metadata.input_shape)}")
    defined = {name} | {t.name for t in graph.tensors.values() if t.is_constant}
    for op in graph.ops:
        lo, hi = OP_ARITY[op.type]
        if not lo <= len(op.inputs) <= hi:
            what = ({1: "takes one input", 2: "takes two inputs"}.get(hi) if lo == hi else
                    "takes 2 to 16 inputs" if op.type == "concat" else "takes input, weight and optional bias")
            raise GraphError(f"op '{op.name}' ({op.type}): {what}, not {len(op.inputs)}")
        if len(op.outputs) != 1:
            raise GraphError(f"op '{op.name}': must have exactly one output")
        for name in op.inputs:
            if name not in defined:
                raise GraphError(f"op '{op.name}': input '{name}' is not defined before it")
        out = graph.tensors.get(op.outputs[0])
        if out is None or out.is_constant or op.outputs[0] in defined:
            raise GraphError(f"op '{op.name}': output '{op.outputs[0]}' is not a fresh activation tensor")
        constant_slots = CONSTANT_SLOTS.get(op.type, ())
        for i, name in enumerate(op.inputs[1:], 1):
            if graph.tensors[name].is_constant != (i in constant_slots):
                raise UnsupportedOpError(f"op '{op.name}': input {i} " + ("(weight/bias) must be a constant"
                                         if i in constant_slots else "must be an activation, not a constant"))
        if graph.tensors[op.inputs[0]].is_constant:
            raise UnsupportedOpError(f"op '{op.name}': first input must be an activation")
        inferred = infer_output_shape(graph, op)
        if tuple(inferred) != tuple(out.shape):
            raise GraphError(f"op '{op.name}': output shape {out.shape} != inferred {inferred}")
        defined.add(op.outputs[0])
    seen = set()
    for name in graph.outputs:  # each an op's output, once (csrc/graph/graph.cpp's order)
        if name not in defined or graph.tensors[name].is_constant or name == graph.inputs[0]:
            raise GraphError(f"graph output '{name}' is never computed")
        if name in seen:
            raise GraphError(f"graph output '{name}' is listed twice")
        seen.add(name)
    ends = [("input", graph.tensors[graph.inputs[0]])] + [("output", graph.tensors[n]) for n in graph.outputs]
    for which, t in ends:
        if t.dtype != "float32":
            raise UnsupportedOpError(f"graph {which} '{t.name}' is {t.dtype}: models take and give float32 (quantize "
                                     f"and dequantize inside)")
    for op in graph.ops:
        _check_dtypes(graph, op)
    classes = int(np.prod(graph.tensors[graph.outputs[0]].shape[1:]))  # labels name the first output's
    if graph.metadata.labels and len(graph.metadata.labels) != classes:
        raise GraphError(f"{len(graph.metadata.labels)} labels for {classes} classes (give one label per class, "
                         f"or none)")
    for t in graph.tensors.values():
        # A deferred constant was checked by the C++ loader (its bytes are the executor's now).
        deferred = isinstance(t, DeferredConstant) and not t.fetched
        if t.is_constant and not deferred and t.dtype == "float32" and not np.isfinite(t.data).all():
            raise FormatError(f"constant '{t.name}' holds NaN or infinity")


def _check_quantization_record(t: Tensor) -> None:
    """An in-memory graph's quantization records, as the readers check them in a file (which
    cannot hold others), so attocore.format.save never writes a file no reader loads."""
    if t.dtype not in DTYPES:
        raise FormatError(f"tensor '{t.name}': unknown dtype '{t.dtype}'")
    if t.dtype == "int32" and not t.is_constant:
        raise FormatError(f"tensor '{t.name}': int32 tensors are constants (int8 layers' biases)")
    if t.dtype != "int8":
        if len(t.scales):
            raise FormatError(f"tensor '{t.name}': scales on a {t.dtype} tensor")
        return
    n = len(t.scales)
    if n != 1 and not (t.is_constant and n == t.shape[0] and n > 1):
        raise FormatError(f"tensor '{t.name}': {n} scales (give 1" +
                          (f", or one per output channel: {t.shape[0]}" if t.is_constant else "") + ")")
    for s in t.scales:
        if not (np.isfinite(np.float32(s)) and np.float32(s) > 0):
            raise FormatError(f"tensor '{t.name}': scale {s} is not finite and positive")
    if not -128 <= t.zero_point <= 127 or (t.is_constant and t.zero_point != 0):
        raise FormatError(f"tensor '{t.name}': zero point {t.zero_point}" +
                          (" (int8 weights are symmetric: 0)" if t.is_constant else " outside [-128, 127]"))


def _check_multiplier(op: Op, m, what: str) -> None:
    if not MIN_MULTIPLIER <= m <= MAX_MULTIPLIER:
        raise FormatError(f"op '{op.name}' ({op.type}): requantization multiplier {what} = {float(m):.6g} is outside "
                          f"[2^-40, 2^20] (scales too far apart)")


def _check_dtypes(graph: Graph, op: Op) -> None:
    """The element types an op's tensors may have, then the int8 ones' limits, as
    csrc/format/validate.cpp's check_dtypes (same order, same error classes)."""
    ins = [graph.tensors[n] for n in op.inputs]
    x, y = ins[0], graph.tensors[op.outputs[0]]

    def need(ok, msg):
        if not ok:
            raise GraphError(f"op '{op.name}' ({op.type}): {msg}")

    types = f"{x.dtype} -> {y.dtype}"
    if op.type == "quantize":
        return need(x.dtype == "float32" and y.dtype == "int8", f"takes float32 to int8, not {types}")
    if op.type == "dequantize":
        return need(x.dtype == "int8" and y.dtype == "float32", f"takes int8 to float32, not {types}")
    if op.type in FLOAT_ONLY_OPS:
        if any(t.dtype != "float32" for t in ins) or y.dtype != "float32":
            raise UnsupportedOpError(f"op '{op.name}' ({op.type}): runs on float32 only (dequantize its int8 input "
                                     f"first)")
        return
    for i, t in enumerate(ins):
        want = "int32" if i == 2 and x.dtype == "int8" else x.dtype
        need(t.dtype == want, f"input {i} is {t.dtype}, not {want} (the op's input is {x.dtype})")
    need(y.dtype == x.dtype, f"output is {y.dtype}, not its input's {x.dtype}")
    if x.dtype != "int8":
        return
    f32 = np.float32
    sx, sy = f32(x.scales[0]), f32(y.scales[0])
    if op.type in ("conv2d", "fully_connected"):
        w = ins[1]
        depth = int(np.prod(w.shape[1:]))
        if depth > MAX_INT8_REDUCTION:
            raise ResourceLimitError(f"op '{op.name}': an int8 output sums {depth} products, over the limit of "
                                     f"{MAX_INT8_REDUCTION}")
        deferred = isinstance(ins[-1], DeferredConstant) and not ins[-1].fetched  # checked by the C++ loader
        if len(ins) == 3 and not deferred and np.abs(ins[2].data.astype(np.int64)).max(initial=0) > MAX_INT8_BIAS:
            raise FormatError(f"op '{op.name}': int32 bias outside [-2^30, 2^30]")
        for sw in w.scales:
            _check_multiplier(op, sx * f32(sw) / sy, "input x weight / output scale")
    elif op.type == "maxpool2d":
        need(tuple(map(f32, x.scales)) == tuple(map(f32, y.scales)) and x.zero_point == y.zero_point,
             "int8 output must keep its input's scale and zero point")
    elif op.type == "global_avgpool":
        _check_multiplier(op, sx / sy / f32(x.shape[2] * x.shape[3]), "input / (output scale x pixels)")
    elif op.type == "add":
        _check_multiplier(op, sx / sy, "first input / output scale")
        _check_multiplier(op, f32(ins[1].scales[0]) / sy, "second input / output scale")
