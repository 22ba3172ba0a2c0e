"""ONNX operators of the exported CNNs beyond the classifiers' (onnx.py dispatches to these):
Concat and Split / Slice along any axis but the batch, the Reshape-Transpose-Reshape of a
channel shuffle, any other Reshape and Transpose keeping the batch (detection heads),
Resize / Upsample, Softmax, ConvTranspose, LeakyRelu / PRelu, Tanh, Pad, Clip to any bounds,
ReduceMean over any axes, and Add / Sub / Mul / Div by a constant (a per-channel affine,
folded into the producing convolution where it can be; any other broadcast constant an
eltwise_const).

Each converter takes (builder, node, attributes, where) and emits attocore ops, or raises
UnsupportedOpError naming the node and the attribute or shape it cannot take. What the
attocore ops compute is docs/FORMAT.md's table; the tests hold each conversion to ONNX
Runtime (tests/test_onnx_ops.py).
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOpError

FLOAT_MAX = float(np.finfo(np.float32).max)  # a clip's missing bound: constants are finite


def _value_of(b, name):
    """A constant input's array (an initializer or a Constant node's), or None."""
    if not name or name not in b.consts:
        return None
    return np.asarray(b.consts[name])


def _axis_of(axis, rank, where, what="axis"):
    """An ONNX axis attribute as a dimension index: any but the batch."""
    ax = axis + rank if axis < 0 else axis
    if not 1 <= ax < rank:
        raise UnsupportedOpError(f"{where}: attribute {what}={axis} on a {rank}-D tensor (any axis but the batch, 0)")
    return ax


def _axis_attrs(ax) -> dict:
    """The attocore `axis` attribute: left out along the channels (the default)."""
    return {} if ax == 1 else {"axis": (ax,)}


def _x(b, node, i=0):
    v = b.activation_of(node.input[i])
    return v, b.tensors[v.name].shape


def concat(b, node, a, where, nm):
    values = [b.activation_of(x) for x in node.input]
    if len(values) > 16:
        raise UnsupportedOpError(f"{where}: Concat of {len(values)} tensors (at most 16)")
    flat = all(v.flat_4d for v in values)
    rank = 4 if values[0].flat_4d else len(b.tensors[values[0].name].shape)
    ax = _axis_of(int(a.get("axis", 1)), rank, where)
    if not flat or ax != 1:  # pooled vectors beside feature maps, or joined past their channels
        values = [b.as_onnx_rank(v, nm) for v in values]
        flat = False
    if len(values) == 1:
        b.values[node.output[0]] = values[0]
        return
    b.emit("concat", nm, [v.name for v in values], node.output[0], _axis_attrs(ax), flat_4d=flat)


def split(b, node, a, where, nm):
    v, shape = _x(b, node)
    ax = _axis_of(int(a.get("axis", 0)), 4 if v.flat_4d else len(shape), where)
    if ax != 1:
        v = b.as_onnx_rank(v, nm)
        shape = b.tensors[v.name].shape
    outputs = [o for o in node.output]
    sizes = _value_of(b, node.input[1] if len(node.input) > 1 else "")
    if sizes is None and "split" in a:
        sizes = np.asarray(a["split"])
    channels = shape[ax]
    if sizes is None:  # equal parts (num_outputs from opset 18: the last may be smaller)
        n = len(outputs)
        part = -(-channels // n)
        sizes = [min(part, channels - k * part) for k in range(n)]
    sizes = [int(s) for s in np.asarray(sizes).reshape(-1)]
    if len(sizes) != len(outputs) or sum(sizes) != channels or min(sizes) < 1:
        raise UnsupportedOpError(f"{where}: Split of {channels} along axis {ax} into {sizes}")
    begin = 0
    for k, (out, size) in enumerate(zip(outputs, sizes)):
        if out:
            b.emit("slice", f"{nm}.{k}", [v.name], out, {"channels": (begin, begin + size), **_axis_attrs(ax)},
                   flat_4d=v.flat_4d)
        begin += size


def slice_(b, node, a, where, nm):
    v, shape = _x(b, node)
    rank = 4 if v.flat_4d else len(shape)
    starts, ends = _value_of(b, node.input[1]), _value_of(b, node.input[2])
    axes = _value_of(b, node.input[3] if len(node.input) > 3 else "")
    steps = _value_of(b, node.input[4] if len(node.input) > 4 else "")
    if starts is None or ends is None:
        raise UnsupportedOpError(f"{where}: Slice with computed starts or ends (constants only)")
    starts, ends = starts.reshape(-1).tolist(), ends.reshape(-1).tolist()
    axes = list(range(len(starts))) if axes is None else axes.reshape(-1).tolist()
    steps = [1] * len(starts) if steps is None else steps.reshape(-1).tolist()
    dims = [b.batch] + list(shape[1:]) + ([1, 1] if v.flat_4d else [])  # ONNX's shape: its batch, not 1
    ranges = {}  # axis -> [begin, end) that is not the whole axis
    for start, stop, axis, step in zip(starts, ends, axes, steps):
        axis = axis + rank if axis < 0 else axis
        if not 0 <= axis < rank:
            raise UnsupportedOpError(f"{where}: Slice of axis {axis} of a {rank}-D tensor")
        size = dims[axis]
        lo = max(0, min(size, start + size if start < 0 else start))
        hi = max(0, min(size, stop + size if stop < 0 else stop))
        if (lo, hi) == (0, size) and step == 1:
            continue  # the whole axis
        if axis == 0 or step != 1:
            raise UnsupportedOpError(f"{where}: Slice of axis {axis} with step {step} (only ranges with step 1 of "
                                     f"the axes but the batch)")
        if hi <= lo:
            raise UnsupportedOpError(f"{where}: Slice gives an empty tensor")
        ranges[axis] = (lo, hi)
    if not ranges:
        b.values[node.output[0]] = v
        return
    for k, (axis, (lo, hi)) in enumerate(sorted(ranges.items())):  # one slice per axis, chained
        last = k == len(ranges) - 1
        out = node.output[0] if last else b.internal(node.output[0], f"axis{axis}")
        b.emit("slice", nm if last else f"{nm}.{axis}", [v.name], out, {"channels": (lo, hi), **_axis_attrs(axis)},
               flat_4d=v.flat_4d)
        v = b.values[out]


# A channel shuffle as exporters write it: Reshape [N, C, H, W] -> [N, g, C/g, H, W],
# Transpose perm [0, 2, 1, 3, 4], Reshape back to [N, C, H, W]. The builder carries the 5-D
# steps as pending values (_Shuffle) that only the next step of the pattern may read.
class _Shuffle:
    def __init__(self, value, groups, transposed=False):
        self.value, self.groups, self.transposed = value, groups, transposed


def reshape_5d(b, node, where, v, shape, target):
    """Reshape of a feature map: the first step of a channel shuffle, else refused."""
    n, c, h, w = shape
    if len(target) == 5 and target[0] in (0, n, -1) and target[3:] in ([h, w], [0, 0]) and target[1] > 0 \
            and c % target[1] == 0 and target[2] in (c // target[1], -1):
        b.pending[node.output[0]] = _Shuffle(v, int(target[1]))
        return True
    return False


def transpose(b, node, a, where, nm):
    pending = b.pending.get(node.input[0])
    perm = [int(p) for p in a.get("perm", [])]
    if pending is not None and not pending.transposed and perm == [0, 2, 1, 3, 4]:
        b.pending[node.output[0]] = _Shuffle(pending.value, pending.groups, True)
        return
    if node.input[0] not in b.values:
        raise UnsupportedOpError(f"{where}: Transpose perm={perm} of a reshaped tensor (only the channel shuffle's "
                                 f"Reshape-Transpose-Reshape)")
    v = b.as_onnx_rank(b.activation_of(node.input[0]), nm)
    rank = len(b.tensors[v.name].shape)
    perm = perm or list(range(rank))[::-1]  # ONNX's default reverses the dimensions
    if perm[0] != 0 or sorted(perm) != list(range(rank)):
        raise UnsupportedOpError(f"{where}: Transpose perm={perm} of a {rank}-D tensor (only permutations keeping "
                                 f"the batch first)")
    if perm == list(range(rank)):
        b.values[node.output[0]] = v
        return
    b.emit("transpose", nm, [v.name], node.output[0], {"perm": tuple(perm) + tuple(range(rank, 4))})


def squeeze(b, node, a, where, nm):
    """Squeeze / Unsqueeze: a Reshape dropping or inserting size-1 dimensions (axes from the
    attribute before opset 13, the input after); of a constant, the constant reshaped."""
    axes = _value_of(b, node.input[1] if len(node.input) > 1 else "")
    axes = [int(x) for x in (np.asarray(a["axes"]) if "axes" in a else axes if axes is not None else [])]
    if node.input[0] in b.consts:
        c = np.asarray(b.consts[node.input[0]])
        b.consts[node.output[0]] = (np.expand_dims(c, tuple(axes)) if node.op_type == "Unsqueeze"
                                    else np.squeeze(c, tuple(axes) if axes else None))
        return
    v = b.activation_of(node.input[0])
    shape = b.tensors[v.name].shape
    dims = [b.batch] + list(shape[1:]) + ([1, 1] if v.flat_4d else [])
    if node.op_type == "Unsqueeze":
        rank = len(dims) + len(axes)
        axes = sorted(ax + rank if ax < 0 else ax for ax in axes)
        for ax in axes:
            dims.insert(ax, 1)
        target = dims
    else:
        axes = [ax + len(dims) if ax < 0 else ax for ax in axes] or [k for k, d in enumerate(dims) if d == 1]
        if any(dims[ax] != 1 for ax in axes if 0 <= ax < len(dims)):
            raise UnsupportedOpError(f"{where}: Squeeze of axes {axes} of {dims} (only size-1 axes)")
        target = [d for k, d in enumerate(dims) if k not in axes]
    if not target or target[0] != b.batch or (0 in axes and node.op_type == "Squeeze"):
        raise UnsupportedOpError(f"{where}: {node.op_type} of axes {axes} of {dims} (the batch stays first)")
    reshape(b, node, {}, where, nm, v, target, b.batch)


def reshape(b, node, a, where, nm, v, target, batch):
    """Reshape (or Flatten) to any 2-D to 4-D shape that keeps the batch: ONNX's rule for the
    target (0 copies the input's dimension, -1 takes what is left)."""
    shape = b.tensors[v.name].shape
    dims = [batch] + list(shape[1:]) + ([1, 1] if v.flat_4d else [])
    if not target:
        raise UnsupportedOpError(f"{where}: Reshape to a computed shape (a constant once the input size is fixed)")
    allow_zero = int(a.get("allowzero", 0))
    resolved = [dims[k] if t == 0 and not allow_zero and k < len(dims) else t for k, t in enumerate(target)]
    total = int(np.prod(dims))
    if resolved.count(-1) == 1:
        known = int(np.prod([t for t in resolved if t != -1]))
        if known > 0 and total % known == 0:
            resolved[resolved.index(-1)] = total // known
    if min(resolved) < 1 or int(np.prod(resolved)) != total:
        raise UnsupportedOpError(f"{where}: Reshape to {target} of a {dims} tensor (not its element count)")
    if resolved[0] != batch or not 2 <= len(resolved) <= 4:
        raise UnsupportedOpError(f"{where}: Reshape to {resolved} of a {dims} tensor (only to 2-D to 4-D shapes "
                                 f"keeping the batch, {batch}, first)")
    out = (1,) + tuple(resolved[1:])
    if v.flat_4d and out == tuple(shape) + (1, 1):
        b.values[node.output[0]] = v  # still the pooled [N, C, 1, 1]
        return
    if out == tuple(shape):  # nothing moves; an [N, C] now, whatever it stood for
        b.values[node.output[0]] = type(v)(v.name)
        return
    if len(shape) > 2:
        b.size_bound.append(f"{where}: Reshape to {resolved}, sizes of this input size's")
    b.emit("reshape", nm, [v.name], node.output[0], out_shape=out)


def finish_shuffle(b, node, where, nm, target):
    """The last Reshape of a channel shuffle; True if node is one."""
    pending = b.pending.get(node.input[0])
    if pending is None:
        return False
    shape = b.tensors[pending.value.name].shape
    n, c, h, w = shape
    if not pending.transposed or len(target) != 4 or target[1] not in (c, -1) or target[2:] not in ([h, w],
                                                                                                   [0, 0]):
        raise UnsupportedOpError(f"{where}: Reshape to {target} of a reshaped {list(shape)} feature map (only the "
                                 f"channel shuffle's Reshape-Transpose-Reshape)")
    b.emit("channel_shuffle", nm, [pending.value.name], node.output[0], {"groups": (pending.groups,)})
    return True


def resize(b, node, a, where, nm):
    """Resize (and Upsample) by integer factors on H and W: nearest in every coordinate mode that
    picks in[y // s] for these factors, linear with half-pixel centres."""
    v, shape = _x(b, node)
    if len(shape) != 4 or v.flat_4d:
        raise UnsupportedOpError(f"{where}: {node.op_type} of a {len(shape)}-D tensor (only feature maps)")
    if node.op_type == "Upsample":
        scales = _value_of(b, node.input[1] if len(node.input) > 1 else "")
        if scales is None and "scales" in a:
            scales = np.asarray(a["scales"])
        sizes = None
    else:
        scales = _value_of(b, node.input[2] if len(node.input) > 2 else "")
        sizes = _value_of(b, node.input[3] if len(node.input) > 3 else "")
    axes = [int(x) % 4 for x in a.get("axes", [0, 1, 2, 3])]
    if attribute_text(a.get("keep_aspect_ratio_policy", "stretch")) != "stretch":
        raise UnsupportedOpError(f"{where}: attribute keep_aspect_ratio_policy="
                                 f"{attribute_text(a['keep_aspect_ratio_policy'])} (only stretch)")

    def full(values, fill):  # values for `axes` spread over the 4 axes
        out = list(fill)
        for axis, value in zip(axes, values.reshape(-1).tolist()):
            out[axis] = value
        return np.asarray(out)
    if sizes is not None and sizes.size:
        sizes = full(sizes, shape)
    if scales is not None and scales.size:
        scales = full(scales, [1.0] * 4)
    if sizes is not None and sizes.size:
        sizes = [int(s) for s in sizes.reshape(-1)]
        if len(sizes) != 4 or sizes[:2] != list(shape[:2]) and sizes[1] != shape[1]:
            raise UnsupportedOpError(f"{where}: {node.op_type} to sizes {sizes} of a {list(shape)} input")
        b.size_bound.append(f"{where}: output sizes {sizes[2:]} given for this input size")
        factors = []
        for out, size in zip(sizes[2:], shape[2:]):
            if out % size:
                raise UnsupportedOpError(f"{where}: {node.op_type} from {size} to {out} (integer factors only)")
            factors.append(out // size)
    elif scales is not None and scales.size:
        scales = [float(s) for s in scales.reshape(-1)]
        if len(scales) != 4 or scales[:2] != [1.0, 1.0] or any(s < 1 or s != int(s) for s in scales[2:]):
            raise UnsupportedOpError(f"{where}: {node.op_type} scales {scales} (integer factors >= 1 on H and W only)")
        factors = [int(s) for s in scales[2:]]
    else:
        raise UnsupportedOpError(f"{where}: {node.op_type} without constant scales or sizes")
    mode = attribute_text(a.get("mode", "nearest"))
    coords = attribute_text(a.get("coordinate_transformation_mode", "half_pixel" if node.op_type == "Resize" else "asymmetric"))
    nearest_mode = attribute_text(a.get("nearest_mode", "round_prefer_floor"))
    if node.op_type == "Upsample":
        coords, nearest_mode = "asymmetric", "floor"
    if mode == "nearest":
        for s, size in zip(factors, shape[2:]):
            if not _nearest_is_floor(coords, nearest_mode, s, size):
                raise UnsupportedOpError(f"{where}: attribute nearest_mode={nearest_mode} with "
                                         f"coordinate_transformation_mode={coords} at factor {s} (picks other "
                                         f"pixels than in[y // {s}])")
        code = 0
    elif mode in ("linear", "bilinear"):
        if coords not in ("half_pixel", "pytorch_half_pixel") and not (coords == "asymmetric" and factors == [1, 1]):
            raise UnsupportedOpError(f"{where}: attribute coordinate_transformation_mode={coords} for linear resize "
                                     f"(only half_pixel: PyTorch's align_corners=False)")
        code = 1
    else:
        raise UnsupportedOpError(f"{where}: attribute mode={mode} (nearest and linear only)")
    if a.get("antialias", 0) and factors != [1, 1]:
        raise UnsupportedOpError(f"{where}: attribute antialias=1")
    if factors == [1, 1]:
        b.values[node.output[0]] = v
        return
    b.emit("resize", nm, [v.name], node.output[0], {"scale": tuple(factors), "mode": (code,)})


def expand(b, node, a, where, nm):
    """Expand of a feature map along H or W from size 1 (a mean over that axis broadcast back,
    say): a nearest resize by that size."""
    v, shape = _x(b, node)
    target = _value_of(b, node.input[1])
    if target is None or len(shape) != 4 or v.flat_4d:
        raise UnsupportedOpError(f"{where}: Expand of a {list(shape)} tensor to a computed or non-4-D shape")
    target = [int(t) for t in target.reshape(-1)]
    target = [1] * (4 - len(target)) + target
    factors = []
    for axis in range(4):
        size, want = shape[axis], target[axis]
        out = size if want == 1 else want
        if size not in (1, out):
            raise UnsupportedOpError(f"{where}: Expand of {list(shape)} to {target}")
        factors.append(out // size)
    if factors[:2] != [1, 1]:
        raise UnsupportedOpError(f"{where}: Expand of {list(shape)} to {target} (only along H and W)")
    if factors[2:] == [1, 1]:
        b.values[node.output[0]] = v
        return
    b.size_bound.append(f"{where}: Expand to {target[2:]}, this input size's")
    b.emit("resize", nm, [v.name], node.output[0], {"scale": tuple(factors[2:]), "mode": (0,)})


def _nearest_is_floor(coords, nearest_mode, s, size) -> bool:
    """Whether ONNX's nearest resize by factor s picks in[y // s] for every output y."""
    out = np.arange(size * s, dtype=np.float64)
    if coords == "asymmetric":
        src = out / s
    elif coords in ("half_pixel", "pytorch_half_pixel"):
        src = (out + 0.5) / s - 0.5
    elif coords == "tf_half_pixel_for_nn":
        src = (out + 0.5) / s
    elif coords == "align_corners":
        src = out * (size - 1) / max(size * s - 1, 1)
    else:
        return False
    if nearest_mode == "floor":
        idx = np.floor(src)
    elif nearest_mode == "ceil":
        idx = np.ceil(src)
    elif nearest_mode == "round_prefer_floor":
        idx = np.where(src - np.floor(src) == 0.5, np.floor(src), np.round(src))
    elif nearest_mode == "round_prefer_ceil":
        idx = np.where(src - np.floor(src) == 0.5, np.ceil(src), np.round(src))
    else:
        return False
    idx = np.clip(idx, 0, size - 1)
    return bool(np.array_equal(idx.astype(np.int64), (out // s).astype(np.int64)))


def softmax(b, node, a, where, nm, opset):
    v, shape = _x(b, node)
    rank = 4 if v.flat_4d else len(shape)
    axis = int(a.get("axis", -1 if opset >= 13 else 1))
    ax = _axis_of(axis, rank, where)
    # Before opset 13 Softmax flattened from `axis` on: one axis only when the ones after it are
    # 1 (the last axis, or the channels of a pooled [N, C, 1, 1]).
    if opset < 13 and not (ax == rank - 1 or (ax == 1 and v.flat_4d)):
        raise UnsupportedOpError(f"{where}: attribute axis={axis} on a {rank}-D tensor at opset {opset} (a softmax "
                                 f"over the flattened dimensions from the axis on: only over the last one)")
    if ax != 1:
        v = b.as_onnx_rank(v, nm)
    b.emit("softmax", nm, [v.name], node.output[0], _axis_attrs(ax), flat_4d=v.flat_4d)


def conv_transpose(b, node, a, where, nm):
    v, shape = _x(b, node)
    wt = _value_of(b, node.input[1])
    if wt is None or wt.ndim != 4 or len(shape) != 4 or v.flat_4d:
        raise UnsupportedOpError(f"{where}: ConvTranspose needs a constant 4-D weight and a feature map input")
    wt = wt.astype(np.float32)
    groups = int(a.get("group", 1))
    kernel = tuple(int(k) for k in a.get("kernel_shape", wt.shape[2:]))
    strides = tuple(int(s) for s in a.get("strides", [1, 1]))
    dilations = tuple(int(d) for d in a.get("dilations", [1, 1]))
    out_pad = [int(p) for p in a.get("output_padding", [0, 0])]
    pads = [int(p) for p in a.get("pads", [0, 0, 0, 0])]
    auto = attribute_text(a.get("auto_pad", "NOTSET"))
    if len(kernel) != 2 or len(strides) != 2 or len(dilations) != 2 or len(out_pad) != 2 or len(pads) != 4:
        raise UnsupportedOpError(f"{where}: only 2-D ConvTranspose")
    full = [(shape[2 + i] - 1) * strides[i] + dilations[i] * (kernel[i] - 1) + 1 + out_pad[i] for i in range(2)]
    # ONNX's rule (its reference implementation and test data): SAME_UPPER puts the larger half
    # of an odd total padding at the end, SAME_LOWER and an output_shape without auto_pad at
    # the start.
    want = None
    if "output_shape" in a:
        want = [int(s) for s in a["output_shape"]][-2:]
        b.size_bound.append(f"{where}: output_shape {want} given for this input size")
    elif auto in ("SAME_UPPER", "SAME_LOWER"):
        want = [shape[2 + i] * strides[i] for i in range(2)]
    if want is not None:
        total = [full[i] - want[i] for i in range(2)]
        if min(total) < 0:
            raise UnsupportedOpError(f"{where}: output shape {want} larger than the transposed convolution gives")
        start = [t // 2 if auto == "SAME_UPPER" else t - t // 2 for t in total]
        pads = [start[0], start[1], total[0] - start[0], total[1] - start[1]]
    if auto not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
        raise UnsupportedOpError(f"{where}: attribute auto_pad={auto}")
    if min(pads) < 0:
        raise UnsupportedOpError(f"{where}: negative padding {pads}")
    if any(p >= max(s, d) for p, s, d in zip(out_pad, strides, dilations)):
        raise UnsupportedOpError(f"{where}: attribute output_padding={out_pad} (each below its stride or dilation)")
    cout = wt.shape[1] * groups
    bias = _value_of(b, node.input[2] if len(node.input) > 2 else "")
    bias = np.zeros(cout, np.float32) if bias is None else bias.astype(np.float32).reshape(-1)
    b.emit("conv_transpose", nm, [v.name, b.const(f"{nm}.weight", wt), b.const(f"{nm}.bias", bias)], node.output[0],
           {"kernel": kernel, "stride": strides, "pad": (pads[0], pads[1], pads[2], pads[3]), "dilation": dilations,
            "groups": (groups,), "output_pad": tuple(out_pad)})


def leaky_relu(b, node, a, where, nm):
    v, shape = _x(b, node)
    alpha = float(a.get("alpha", 0.01))
    b.emit("prelu", nm, [v.name, b.const(f"{nm}.alpha", np.array([alpha], np.float32))], node.output[0],
           flat_4d=v.flat_4d)


def prelu(b, node, a, where, nm):
    v, shape = _x(b, node)
    slope = _value_of(b, node.input[1])
    channels = shape[1]
    if slope is None:
        raise UnsupportedOpError(f"{where}: PRelu with a computed slope (a constant only)")
    flat = slope.astype(np.float32).reshape(-1)
    # ONNX broadcasts the slope against x (trailing alignment): one value, or one per channel
    # ([C, 1, 1] on a feature map, [C] on an [N, C] vector).
    per_channel = (slope.shape in ((channels, 1, 1), (1, channels, 1, 1)) and (len(shape) == 4 or v.flat_4d)) or \
        (slope.shape in ((channels,), (1, channels)) and (len(shape) == 2 and not v.flat_4d))
    if flat.size != 1 and not per_channel:
        raise UnsupportedOpError(f"{where}: PRelu slope of shape {list(slope.shape)} for a {list(shape)} input (one "
                                 f"value, or one per channel)")
    b.emit("prelu", nm, [v.name, b.const(f"{nm}.slope", flat)], node.output[0], flat_4d=v.flat_4d)


def pad(b, node, a, where, nm):
    v, shape = _x(b, node)
    mode = attribute_text(a.get("mode", "constant"))
    pads = _value_of(b, node.input[1] if len(node.input) > 1 else "")
    pads = np.asarray(a["pads"]) if pads is None and "pads" in a else pads
    value = _value_of(b, node.input[2] if len(node.input) > 2 else "")
    value = float(value.reshape(-1)[0]) if value is not None and value.size else float(a.get("value", 0.0))
    axes = _value_of(b, node.input[3] if len(node.input) > 3 else "")
    if pads is None:
        raise UnsupportedOpError(f"{where}: Pad with computed pads (constants only)")
    pads = [int(p) for p in pads.reshape(-1)]
    if axes is not None:  # opset 18: pads for the listed axes only
        full = [0] * 8
        for k, axis in enumerate(int(x) % 4 for x in axes.reshape(-1)):
            full[axis], full[axis + 4] = pads[k], pads[k + len(axes.reshape(-1))]
        pads = full
    if len(shape) != 4 or v.flat_4d or len(pads) != 8:
        raise UnsupportedOpError(f"{where}: Pad of a {len(shape)}-D tensor (only feature maps)")
    if mode != "constant" or value != 0.0:
        raise UnsupportedOpError(f"{where}: Pad mode={mode} value={value:g} (only zero padding)")
    if pads[0] or pads[1] or pads[4] or pads[5] or min(pads) < 0:
        raise UnsupportedOpError(f"{where}: Pad pads={pads} (only non-negative padding of H and W)")
    if not any(pads):
        b.values[node.output[0]] = v
        return
    b.emit("pad", nm, [v.name], node.output[0], {"pad": (pads[2], pads[3], pads[6], pads[7])})


def clip(b, node, lo, hi, nm):
    v = b.activation_of(node.input[0])
    bounds = np.array([max(lo, -FLOAT_MAX), min(hi, FLOAT_MAX)], np.float32)
    b.emit("clip", nm, [v.name, b.const(f"{nm}.bounds", bounds)], node.output[0], flat_4d=v.flat_4d)


def reduce_mean(b, node, a, where, nm, axes):
    """ReduceMean over any axes but the batch. With keepdims on a feature map: over H alone or W
    alone an average pool the axis long, over the channels a 1x1 convolution by 1/C (the
    spatial mean is onnx.py's global pool); otherwise attocore's reduce_mean, then a reshape
    dropping the averaged dimensions when keepdims is 0."""
    v, shape = _x(b, node)
    rank = 4 if v.flat_4d else len(shape)
    keep = bool(a.get("keepdims", 1))
    axes = sorted({ax + rank if ax < 0 else ax for ax in (axes if axes is not None else range(rank))})
    if not axes or axes[0] < 1 or axes[-1] >= rank:
        raise UnsupportedOpError(f"{where}: ReduceMean over axes {axes} of a {rank}-D tensor (any axes but the "
                                 f"batch, 0)")
    if rank == 4 and not v.flat_4d and keep and axes == [1]:
        c = shape[1]
        b.emit("conv2d", nm, [v.name, b.const(f"{nm}.weight", np.full((1, c, 1, 1), 1.0 / c, np.float32)),
                              b.const(f"{nm}.bias", np.zeros(1, np.float32))], node.output[0],
               {"kernel": (1, 1), "stride": (1, 1), "pad": (0, 0, 0, 0), "dilation": (1, 1), "groups": (1,)})
        return
    if rank == 4 and not v.flat_4d and keep and axes in ([2], [3]):
        kernel = (shape[2], 1) if axes == [2] else (1, shape[3])
        b.size_bound.append(f"{where}: the mean over axis {axes[0]} is a window of this input size's {kernel}")
        b.emit("avgpool2d", nm, [v.name], node.output[0], {"kernel": kernel, "stride": (1, 1), "pad": (0, 0, 0, 0),
                                                           "count_include_pad": (0,)})
        return
    v = b.as_onnx_rank(v, nm)
    mask = sum(1 << ax for ax in axes)
    kept = [d for k, d in enumerate(b.tensors[v.name].shape) if k not in axes]
    if keep or len(kept) < 2:
        if not keep:
            raise UnsupportedOpError(f"{where}: ReduceMean over axes {axes} keepdims=0 leaves a "
                                     f"{len(kept)}-D tensor (attocore's tensors have 2 to 4 dimensions)")
        b.emit("reduce_mean", nm, [v.name], node.output[0], {"axes": (mask,)})
        return
    op = b.emit("reduce_mean", f"{nm}.keepdims", [v.name], b.internal(node.output[0], "keepdims"), {"axes": (mask,)})
    b.emit("reshape", nm, op.outputs, node.output[0], out_shape=tuple(kept))


def affine_by_constant(b, node, where, nm):
    """Add, Sub, Mul or Div of a feature map and a constant that is one value or one per channel:
    y = x * scale + shift per channel, folded into the producing convolution when nothing else
    reads it (as batch norm is), otherwise a depthwise 1x1 convolution. True if it took node."""
    t = node.op_type
    const_at = [k for k, x in enumerate(node.input) if x in b.consts]
    if len(const_at) != 1 or len(node.input) != 2:
        return False
    x_name = node.input[1 - const_at[0]]
    v = b.values.get(x_name)
    if v is None:
        return False
    shape = b.tensors[v.name].shape
    c = np.asarray(b.consts[node.input[const_at[0]]], np.float64)
    const_first = const_at[0] == 0
    channels = shape[1]
    if len(shape) != 4 or v.flat_4d or c.ndim > len(shape) or (t == "Div" and const_first) or \
            not (c.size == 1 or c.shape in ((channels, 1, 1), (1, channels, 1, 1))):
        eltwise_by_constant(b, node, where, nm, v, c, const_first)
        return True
    c = np.full(channels, float(c.reshape(-1)[0])) if c.size == 1 else c.reshape(-1)
    if t == "Add":
        scale, shift = np.ones(channels), c
    elif t == "Sub":
        scale, shift = (-np.ones(channels), c) if const_first else (np.ones(channels), -c)
    elif t == "Mul":
        scale, shift = c, np.zeros(channels)
    else:  # Div
        if np.any(c == 0):
            raise UnsupportedOpError(f"{where}: Div by zero")
        scale, shift = 1.0 / c, np.zeros(channels)
    b.affine(node, v, scale, shift, nm)
    return True


def eltwise_by_constant(b, node, where, nm, v, c, const_first):
    """Add, Sub, Mul or Div of a tensor and a constant of any shape that broadcasts to it
    without enlarging it (numpy's rule, the batch shared): attocore's eltwise_const."""
    v = b.as_onnx_rank(v, nm)
    shape = tuple(b.tensors[v.name].shape)
    c = np.asarray(c, np.float32).reshape(np.shape(c) or (1,))
    try:
        fits = c.ndim <= len(shape) and np.broadcast_shapes(shape, c.shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise UnsupportedOpError(f"{where}: {node.op_type} of a {list(shape)} tensor and a constant of shape "
                                 f"{list(c.shape)} (it must broadcast to the tensor's shape, one value for every image)")
    kind = {"Add": 0, "Sub": 1, "Mul": 2, "Div": 3}[node.op_type]
    if kind == 3 and not const_first and np.any(c == 0):
        raise UnsupportedOpError(f"{where}: Div by zero")
    full = (1,) * (len(shape) - c.ndim) + c.shape
    if any(d != 1 for d in full[2:]):
        b.size_bound.append(f"{where}: {node.op_type} by a constant laid out for this input size's "
                            f"{list(shape[2:])}")
    attrs = {"kind": (kind,), **({"swap": (1,)} if const_first and kind in (1, 3) else {})}
    b.emit("eltwise_const", nm, [v.name, b.const(f"{nm}.constant", c)], node.output[0], attrs)


def sub(b, node, where, nm):
    """a - b of two computed tensors of one shape: b negated (a depthwise 1x1 by -1), then added."""
    x0, x1 = b.activation_of(node.input[0]), b.activation_of(node.input[1])
    if b.tensors[x0.name].shape != b.tensors[x1.name].shape or x0.flat_4d != x1.flat_4d:
        raise UnsupportedOpError(f"{where}: Sub of shapes {b.tensors[x0.name].shape} and {b.tensors[x1.name].shape} "
                                 f"(two tensors of one shape)")
    if len(b.tensors[x1.name].shape) != 4:  # no convolution to negate with: a multiply by -1
        neg = b.emit("eltwise_const", f"{nm}.negate", [x1.name, b.const(f"{nm}.minus_one", np.array([-1.0]))],
                     b.internal(node.output[0], "negated"), {"kind": (2,)}, flat_4d=x1.flat_4d)
        b.emit("add", nm, [x0.name, neg.outputs[0]], node.output[0], flat_4d=x0.flat_4d)
        return
    ch = b.tensors[x1.name].shape[1]
    neg = b.emit("conv2d", f"{nm}.negate", [x1.name, b.const(f"{nm}.minus_one", -np.ones((ch, 1, 1, 1), np.float32)),
                                             b.const(f"{nm}.zero", np.zeros(ch, np.float32))],
                 b.internal(node.output[0], "negated"), {"kernel": (1, 1), "stride": (1, 1), "pad": (0, 0, 0, 0),
                                               "dilation": (1, 1), "groups": (ch,)})
    b.emit("add", nm, [x0.name, neg.outputs[0]], node.output[0])


def attribute_text(v) -> str:
    """An ONNX string attribute as text (onnx gives bytes); the importer modules share it."""
    return v.decode(errors="replace") if isinstance(v, bytes) else str(v)
