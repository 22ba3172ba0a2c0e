"""ONNX QDQ import: a model quantized by onnxruntime.quantization.quantize_static in the QDQ
format (QuantizeLinear -> DequantizeLinear pairs around float operators, int8 weights behind a
DequantizeLinear) becomes an attocore int8 graph with ONNX Runtime's own parameters.

How (docs/QUANTIZATION.md, "Importing ONNX QDQ models"): strip() rewrites the model into the
float model it stands for, recording each quantized activation's (scale, zero point) and
each weight's per-channel scales; the ordinary float import converts that; to_int8() then
quantizes the attocore graph with the recorded parameters instead of calibrated ranges.
Unsigned activations (uint8, zero point 0..255) become signed int8 with the same scale and
zero point - 128: the same real values, code for code.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import AttocoreError, FormatError, GraphError, UnsupportedOpError
from ..graph import CLAMP_ACTIVATIONS, Graph

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
# Operators whose weight (input 1) attocore quantizes per output channel, and the weight axis
# that is the output channel (Gemm's depends on transB).
WEIGHT_READERS = ("Conv", "Gemm", "MatMul")


@dataclass
class QdqInfo:
    activations: dict = field(default_factory=dict)  # ONNX float tensor -> (scale, signed zero point)
    weight_scales: dict = field(default_factory=dict)  # ONNX node name -> per-output-channel scales
    clamped: set = field(default_factory=set)  # tensors every reader reads through a QuantizeLinear


def is_qdq(m) -> bool:
    return any(n.op_type in QDQ_OPS and n.domain in ("", "ai.onnx") for n in m.graph.node)


def _values(m):
    """Constant tensors by name: initializers and Constant nodes' values."""
    from onnx import helper, numpy_helper
    consts = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type == "Constant" and n.output:
            for a in n.attribute:
                if a.name == "value":
                    consts[n.output[0]] = numpy_helper.to_array(helper.get_attribute_value(a))
    return consts


def _axis(node) -> int:
    from onnx import helper
    for a in node.attribute:
        if a.name == "axis":
            return int(helper.get_attribute_value(a))
    return 1  # ONNX's default


def _scale_and_zero_point(node, consts, what):
    """(scale array, zero point array, zero point's dtype) of a Q/DQ node, checked: scales
    finite and positive, zero points one per scale."""
    if len(node.input) < 2 or node.input[1] not in consts:
        raise UnsupportedOpError(f"{what}: its scale must be a constant (initializer)")
    scale = np.asarray(consts[node.input[1]], np.float32).reshape(-1)
    if len(node.input) > 2 and node.input[2]:
        if node.input[2] not in consts:
            raise UnsupportedOpError(f"{what}: its zero point must be a constant (initializer)")
        zp = np.asarray(consts[node.input[2]])
    else:
        zp = np.zeros(scale.shape, np.uint8)  # ONNX's default zero point type is uint8
    if scale.size == 0 or not np.all(np.isfinite(scale)) or not np.all(scale > 0):
        raise FormatError(f"{what}: scale {scale[:4].tolist()} is not finite and positive")
    if zp.size != scale.size:
        raise FormatError(f"{what}: {zp.size} zero points for {scale.size} scales")
    return scale, zp.reshape(-1), zp.dtype


def _signed(scale, zp, dtype, what) -> tuple:
    """An activation's (scale, zero point) as signed int8: uint8 codes u are int8 codes u - 128
    with zero point zp - 128, the same real values."""
    if scale.size != 1:
        raise UnsupportedOpError(f"{what}: per-channel activation quantization ({scale.size} scales; attocore "
                                 f"quantizes activations per tensor)")
    if dtype == np.uint8:
        return float(scale[0]), int(zp[0]) - 128
    if dtype == np.int8:
        return float(scale[0]), int(zp[0])
    raise UnsupportedOpError(f"{what}: activations of type {dtype} (int8 or uint8)")


def _weight(node, consts, reader, slot, what):
    """The float weight a weight DequantizeLinear stands for, and its scales per output channel
    (None for a bias or any other constant)."""
    q = np.asarray(consts[node.input[0]])
    scale, zp, zdtype = _scale_and_zero_point(node, consts, what)
    axis = _axis(node) if scale.size > 1 else None
    if axis is not None:
        if q.ndim == 0 or not -q.ndim <= axis < q.ndim:
            raise FormatError(f"{what}: axis {axis} of a {q.ndim}-D tensor")
        axis %= q.ndim
        if q.shape[axis] != scale.size:
            raise FormatError(f"{what}: {scale.size} scales for the {q.shape[axis]} channels of axis {axis} of "
                              f"{list(q.shape)}")
    shape = [1] * q.ndim
    if axis is not None:
        shape[axis] = -1
    real = ((q.astype(np.float64) - zp.astype(np.float64).reshape(shape)) *
            scale.astype(np.float64).reshape(shape)).astype(np.float32)
    if reader is None or slot != 1 or reader.op_type not in WEIGHT_READERS:
        return real, None
    if q.dtype != np.int8:
        raise UnsupportedOpError(f"{what}: weight of type {q.dtype} (attocore's int8 weights are signed and "
                                 f"symmetric: quantize weights as QInt8)")
    if np.any(zp != 0):
        raise UnsupportedOpError(f"{what}: weight zero point {zp[zp != 0][:1].tolist()} (int8 weights are "
                                 f"symmetric: zero point 0)")
    if q.size and q.min() < -127:
        raise UnsupportedOpError(f"{what}: weight code -128 (attocore's int8 weights lie in [-127, 127], as "
                                 f"symmetric quantization gives)")
    trans_b = any(a.name == "transB" and a.i for a in reader.attribute)
    out_axis = 0 if reader.op_type == "Conv" or (reader.op_type == "Gemm" and trans_b) else 1
    if axis is not None and axis != out_axis:
        raise UnsupportedOpError(f"{what}: weight quantized per channel along axis {axis} (attocore's weight "
                                 f"scales are per output channel: axis {out_axis} for this {reader.op_type})")
    channels = q.shape[out_axis] if q.ndim > out_axis else 1
    return real, np.broadcast_to(scale, (channels,)).astype(np.float32)


def strip(m):
    """(the float model a QDQ model stands for, its QdqInfo). Every node gets a name (the
    float import names ops by node, and the weight scales are found by op name)."""
    from onnx import helper, numpy_helper
    consts = _values(m)
    info = QdqInfo()
    readers = {}
    for n in m.graph.node:
        for k, x in enumerate(n.input):
            readers.setdefault(x, []).append((n, k))
    quantized = {}   # QuantizeLinear output -> (float tensor, scale, zp)
    rename = {}      # activation DequantizeLinear output -> the float tensor it stands for
    float_consts = []
    nodes = []
    names = set()
    for i, node in enumerate(m.graph.node):
        what = f"{node.op_type} '{node.name or node.output[0] if node.output else i}'"
        if node.op_type == "QuantizeLinear":
            scale, zp, dtype = _scale_and_zero_point(node, consts, what)
            params = _signed(scale, zp, dtype, what)
            quantized[node.output[0]] = (rename.get(node.input[0], node.input[0]), params)
            continue
        if node.op_type == "DequantizeLinear":
            src = node.input[0]
            if src in quantized:
                x, params = quantized[src]
                scale, zp, dtype = _scale_and_zero_point(node, consts, what)
                if _signed(scale, zp, dtype, what) != params:
                    raise UnsupportedOpError(f"{what}: dequantizes '{src}' with other parameters than it was "
                                             f"quantized with")
                info.activations.setdefault(x, params)
                rename[node.output[0]] = x
                continue
            if src in consts:
                uses = readers.get(node.output[0], [])
                reader, slot = uses[0] if len(uses) == 1 else (None, None)
                real, sw = _weight(node, consts, reader, slot, f"{what} of '{src}'")
                float_consts.append(numpy_helper.from_array(real, node.output[0]))
                if sw is not None:
                    info.weight_scales[node.output[0]] = sw
                continue
            raise UnsupportedOpError(f"{what}: reads '{src}', which is neither a QuantizeLinear's output nor a "
                                     f"constant (models of QLinear operators, QOperator format, are not supported)")
        for x in node.input:
            if x in quantized:
                raise UnsupportedOpError(f"node '{node.name}' ({node.op_type}) reads the int8 tensor '{x}' "
                                         f"(only DequantizeLinear may: QOperator models are not supported)")
        new = helper.make_node(node.op_type, [rename.get(x, x) for x in node.input], list(node.output),
                               name=node.name or f"{node.op_type.lower()}_{i}", domain=node.domain)
        new.attribute.extend(node.attribute)
        if new.name in names:
            new.name = f"{new.name}#{i}"
        names.add(new.name)
        nodes.append(new)
    # Weight scales by the node reading the weight (the float import names its op so).
    info.weight_scales = {n.name: info.weight_scales[n.input[1]] for n in nodes
                          if n.op_type in WEIGHT_READERS and len(n.input) > 1 and n.input[1] in info.weight_scales}
    # A tensor read only through QuantizeLinear is clamped to its int8 range wherever it is read:
    # onnxruntime drops a Relu before such a quantize when the range starts at 0 (below).
    for x in info.activations:
        if all(r.op_type == "QuantizeLinear" for r, _ in readers.get(x, [])):
            info.clamped.add(x)
    outputs = []
    for o in m.graph.output:
        if o.name in rename:  # a dequantized graph output: the float tensor under the output's name
            nodes.append(helper.make_node("Identity", [rename[o.name]], [o.name], name=f"{o.name}.output"))
            # Its scales under the output's name too: the simplifier may drop the Identity and
            # give the producer's output the graph output's name.
            info.activations.setdefault(o.name, info.activations[rename[o.name]])
        outputs.append(o)
    used = {x for n in nodes for x in n.input}
    inits = [t for t in m.graph.initializer if t.name in used] + [t for t in float_consts if t.name in used]
    g = helper.make_graph(nodes, m.graph.name, list(m.graph.input), outputs, inits)
    # onnxruntime declares every domain it knows; the float model keeps those its nodes use (the
    # version converter refuses some of the others).
    domains = {"", "ai.onnx"} | {n.domain for n in nodes}
    out = helper.make_model(g, opset_imports=[o for o in m.opset_import if o.domain in domains],
                            ir_version=m.ir_version)
    return out, info


def to_int8(graph: Graph, values: dict, info: QdqInfo) -> Graph:
    """The float graph of the stripped model quantized with the QDQ model's parameters. Ops with
    an int8 kernel whose activation inputs and output the model quantized run in int8; the
    rest stay float32 between a dequantize and a quantize."""
    from ..quantize.transform import INT8_OPS, quantize_graph
    acts = {}
    for onnx_name, params in info.activations.items():
        v = values.get(onnx_name)
        if v is not None:
            acts.setdefault(v.name, params)
    clamped = {values[n].name for n in info.clamped if n in values}
    for op in graph.ops:
        out = op.outputs[0]
        # onnxruntime removes a Relu whose output range starts at 0 and is then quantized: zero
        # point -128 clamps at 0. The op gets its ReLU back, which the int8 kernel applies
        # anyway and a float op needs.
        if (out in clamped and acts.get(out, (0, 0))[1] == -128 and op.activation == "none"
                and op.type in ("conv2d", "fully_connected", "add")):
            op.activation = "relu"
    weight_scales = {}
    for op in graph.ops:
        if op.type in ("conv2d", "fully_connected") and op.name in info.weight_scales:
            sw = info.weight_scales[op.name]
            w = graph.tensors[op.inputs[1]].data
            shape = (-1,) + (1,) * (w.ndim - 1)
            if w.shape[0] == sw.size and np.allclose(np.rint(w / sw.reshape(shape)) * sw.reshape(shape), w,
                                                     rtol=1e-5, atol=0):
                weight_scales[op.name] = sw
            # else: the float import changed the weight (a batch norm folded into it): its
            # scales are derived from the float values as attocore.quantize does.
    chosen = set()
    for op in graph.ops:
        ins = [n for n in op.inputs if not graph.tensors[n].is_constant]
        if (op.type in INT8_OPS and op.activation in CLAMP_ACTIVATIONS and op.outputs[0] in acts
                and all(n in acts for n in ins)):
            chosen.add(op.name)
    if not chosen:
        raise UnsupportedOpError("the QDQ model quantizes no operator attocore runs in int8")
    try:
        q = quantize_graph(graph, {}, chosen, note="ONNX QDQ (the model's own scales)", qparams=acts,
                           weight_scales=weight_scales)
        from .. import format as fmt
        fmt.validate(q)
    except AttocoreError as e:
        raise type(e)(f"the QDQ model's quantization is outside attocore's int8 limits: {e}") from e
    return q


def guarded_strip(m):
    """strip(), a malformed model's leftovers (an index, a key) reported as a GraphError."""
    try:
        return strip(m)
    except AttocoreError:
        raise
    except (IndexError, KeyError, ValueError, TypeError, AttributeError) as e:
        raise GraphError(f"malformed QDQ model: {type(e).__name__}: {e}") from e
