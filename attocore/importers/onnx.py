"""ONNX import: AttoNet variants and other small CNNs to the attocore weight format.

    from attocore.onnx import convert, check
    problems = check("net.onnx")            # every unsupported operator/attribute, at once
    graph = convert("net.onnx", "net.atto") # folds BatchNormalization, fuses ReLU/ReLU6

Supported (opsets 11-21 as they are, 7-25 through onnx_prepare's version conversion; default
domain; 4-D NCHW inputs of any channel count and size, or 2-D [N, features]): the classifiers'
operators here (Conv with any dilation, BatchNormalization, Relu, Clip, Add, Mul, MaxPool and
AveragePool with ceil_mode, GlobalAveragePool, ReduceMean, Gemm, MatMul, Flatten, Sigmoid,
HardSigmoid, HardSwish, Identity, Constant), and those of detectors and other exported CNNs in
onnx_ops.py (Concat, Split and Slice along any axis but the batch, a channel shuffle's
Reshape-Transpose-Reshape, any Reshape and Transpose of 2-D to 4-D tensors keeping the batch
first, Resize / Upsample, Softmax, ConvTranspose, LeakyRelu, PRelu, Tanh, Pad, Sub, Div,
Expand, ReduceMean over any axes, arithmetic with broadcast constants). Anything else is refused before any
conversion work, with the operator, node and attribute named.

A QDQ model (onnxruntime.quantization.quantize_static, QuantFormat.QDQ) converts to an int8
graph with the model's own scales (onnx_qdq.py, docs/QUANTIZATION.md).

Malformed models are refused with attocore's typed errors, never a raw IndexError or KeyError:
bytes that are not an ONNX model (FormatError), nodes with missing inputs, short attribute
lists, initializers whose data does not fill their shape, names used before they are
computed or computed twice, shapes ONNX Runtime would refuse (UnsupportedOpError or
GraphError). check() lists them with everything else; a model it calls convertible converts.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .. import format as fmt
from . import onnx_ops, onnx_qdq, preprocessing
from .onnx_ops import attribute_text
from .onnx_prepare import batch_is_symbolic, batch_sized_ops, opset_of, prepare
from ..errors import AttocoreError, FormatError, GraphError, UnsupportedOpError
from ..graph import Graph, Metadata, Op, Tensor, infer_output_shape, validate

SUPPORTED = {"Conv", "BatchNormalization", "Relu", "Clip", "Add", "MaxPool", "AveragePool", "GlobalAveragePool",
             "ReduceMean", "Gemm", "MatMul", "Flatten", "Reshape", "Identity", "Constant", "Sigmoid", "HardSigmoid",
             "HardSwish", "Mul", "Concat", "Split", "Slice", "Transpose", "Resize", "Upsample", "Softmax",
             "ConvTranspose", "LeakyRelu", "PRelu", "Tanh", "Pad", "Sub", "Div", "Expand", "Squeeze", "Unsqueeze"}
OPSETS = range(11, 22)
# Inputs each supported operator takes (fewest, most; optional trailing inputs may be ""), and
# the attributes holding one value per spatial axis (2) or per spatial edge (4).
ARITY = {"Conv": (2, 3), "BatchNormalization": (5, 5), "Relu": (1, 1), "Clip": (1, 3), "Add": (2, 2),
         "MaxPool": (1, 1), "AveragePool": (1, 1), "GlobalAveragePool": (1, 1), "ReduceMean": (1, 2),
         "Gemm": (2, 3), "MatMul": (2, 2), "Flatten": (1, 1), "Reshape": (2, 2), "Identity": (1, 1),
         "Constant": (0, 0), "Sigmoid": (1, 1), "HardSigmoid": (1, 1), "HardSwish": (1, 1), "Mul": (2, 2),
         "Concat": (1, 1 << 16), "Split": (1, 2), "Slice": (3, 5), "Transpose": (1, 1), "Resize": (1, 4),
         "Upsample": (1, 2), "Softmax": (1, 1), "ConvTranspose": (2, 3), "LeakyRelu": (1, 1), "PRelu": (2, 2),
         "Tanh": (1, 1), "Pad": (1, 4), "Sub": (2, 2), "Div": (2, 2), "Expand": (2, 2), "Squeeze": (1, 2),
         "Unsqueeze": (1, 2)}
# Constant operands that must be float32, like the image they combine with (ONNX's type T).
FLOAT_OPERANDS = {"Conv": (1, 2), "BatchNormalization": (1, 2, 3, 4), "Gemm": (1, 2), "MatMul": (1,), "Add": (0, 1),
                  "ConvTranspose": (1, 2), "PRelu": (1,), "Sub": (0, 1), "Mul": (0, 1), "Div": (0, 1)}
# What exporters compute shapes with: constants once the input shape is fixed (onnx_prepare).
FOLDABLE_ONCE_SHAPED = {"Shape", "Gather", "Cast", "Unsqueeze", "Squeeze", "Concat", "ConstantOfShape", "Range",
                        "Expand", "Slice", "Size", "Div", "Floor", "Sub", "Equal", "Where", "Reshape", "Mul", "Add"}
WINDOW_ATTRS = {"kernel_shape": (2, 1), "strides": (2, 1), "dilations": (2, 1), "pads": (4, 0)}  # length, minimum


def _onnx():
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as e:
        raise ImportError('ONNX import needs the onnx package: pip install "attocore[onnx]"', name="onnx") from e
    return onnx, numpy_helper


def _load(model):
    """A ModelProto from a path, the file's bytes, or a ModelProto."""
    onnx, _ = _onnx()
    from google.protobuf.message import DecodeError
    what = "the bytes"
    if isinstance(model, (bytes, bytearray)):
        head = bytes(model[:len(fmt.MAGIC)])
    elif isinstance(model, str) or hasattr(model, "__fspath__"):
        what = f"'{os.fsdecode(os.fspath(model))}'"
        if os.path.isdir(model):
            raise IsADirectoryError(f"{what} is a directory, not an ONNX model file")
        with open(model, "rb") as f:
            head = f.read(len(fmt.MAGIC))
    else:
        head = None
    if head == fmt.MAGIC:
        raise FormatError(f"{what} is an attocore model already, not an ONNX model: run it as it is "
                          f"(attocore run MODEL, attocore.load)")
    try:
        if isinstance(model, (bytes, bytearray)):
            return onnx.load_model_from_string(bytes(model))
        if isinstance(model, str) or hasattr(model, "__fspath__"):
            return onnx.load(model)
    except (DecodeError, RuntimeWarning, ValueError) as e:
        raise FormatError(f"{what} is not a valid ONNX model (not an ONNX model, or a damaged one: {e})") from e
    if not isinstance(model, onnx.ModelProto):
        raise TypeError(f"an ONNX model is a path, bytes or onnx.ModelProto, not {type(model).__name__}")
    return model


def _attrs(node) -> dict:
    onnx, _ = _onnx()
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _where(node, i) -> str:
    return f"node '{node.name or f'#{i}'}' ({node.op_type})"


def check(model, input_shape=None) -> list:
    """Every problem that stops conversion, as messages naming operator, node and attribute.
    An empty list means convert() succeeds: when no operator or attribute is refused, the
    conversion itself is tried and its error, if any, is the problem reported."""
    m = _load(model)
    qdq = None
    if onnx_qdq.is_qdq(m):
        try:
            m, qdq = onnx_qdq.guarded_strip(m)
        except AttocoreError as e:
            return [str(e)]
    symbolic = batch_is_symbolic(m, input_shape)
    early = batch_sized_ops(m) if symbolic else []  # before onnxslim drops them
    m, problems = _prepared(m, input_shape)
    problems = early + problems
    if not problems:
        try:
            values = {}
            graph = _convert(m, values=values)
            if qdq is not None:
                onnx_qdq.to_int8(graph, values, qdq)
        except AttocoreError as e:
            problems.append(str(e))
    return problems


def _prepared(m, input_shape):
    """(the model as onnx_prepare leaves it, its problems): a malformed graph is reported as it
    is, before the ecosystem's tools (which assume a well-formed one) see it."""
    problems = _structure_problems(m)
    if problems:
        return m, problems
    try:
        m = prepare(m, input_shape)
    except AttocoreError as e:
        step = getattr(e, "prepare_step", None)
        if step == "input shape":  # the shape computations behind a symbolic shape fold away once it is given
            others = [p for p in _problems(m) if not p.startswith("opset ") and "graph input" not in p
                      and not any(f"({t})" in p for t in FOLDABLE_ONCE_SHAPED)]
            return m, [str(e)] + others
        # What attocore itself refuses in the file as it is comes first (an unsupported operator
        # often is why ONNX's tools fail too), then the tool's own words.
        own = [p for p in _problems(m) if not p.startswith("opset ")]
        if not own and step == "shape inference" and opset_of(m) in OPSETS:
            try:
                _convert(m)  # the importer's own, more specific words, where it has some
            except AttocoreError as mine:
                own = [str(mine)]
        return m, own + [str(e)]
    return m, _problems(m)


def _structure_problems(m) -> list:
    """Malformed graph structure: arity, names used before they are computed or computed
    twice, initializers that cannot be read, attributes of the wrong length."""
    _, numpy_helper = _onnx()
    problems = []
    defined, unreadable = {i.name for i in m.graph.input}, set()
    for t in m.graph.initializer:
        try:
            numpy_helper.to_array(t)
        except Exception as e:  # noqa: BLE001 - onnx raises ValueError, TypeError or struct.error here
            problems.append(f"initializer '{t.name}': its data does not fit its shape {list(t.dims)} ({e})")
            unreadable.add(t.name)
        defined.add(t.name)
    old_slice = (opset_of(m) or 10) < 10  # None: no default-domain opset, refused elsewhere
    for i, node in enumerate(m.graph.node):
        where = _where(node, i)
        lo, hi = ARITY.get(node.op_type, (0, len(node.input)))
        if node.op_type == "Slice" and old_slice:  # opsets 1-9: starts, ends, axes are attributes
            lo, hi = 1, 1
        if node.op_type in ARITY and not lo <= len(node.input) <= hi or any(not x for x in node.input[:lo]):
            problems.append(f"{where}: {len(node.input)} inputs ({lo}..{hi} expected)")
        for x in node.input:
            if x and x not in defined:
                problems.append(f"{where}: input '{x}' is not computed before this node")
            if x in unreadable:
                problems.append(f"{where}: input '{x}' cannot be read")
        if not node.output or not node.output[0]:
            problems.append(f"{where}: no output")
        for o in node.output:
            if o and o in defined:
                problems.append(f"{where}: output '{o}' is already defined (by a graph input, an initializer or "
                                f"another node)")
            defined.add(o)
        try:
            a = _attrs(node)
        except Exception as e:  # noqa: BLE001
            problems.append(f"{where}: an attribute cannot be read ({e})")
            continue
        for key, (length, minimum) in WINDOW_ATTRS.items():
            if key in a and (len(a[key]) != length or any(not isinstance(v, int) or v < minimum for v in a[key])):
                problems.append(f"{where}: attribute {key}={list(a[key])} ({length} values, each at least {minimum})")
        if node.op_type in ("MaxPool", "AveragePool") and "kernel_shape" not in a:
            problems.append(f"{where}: attribute kernel_shape is missing")
        if node.op_type == "Conv" and int(a.get("group", 1)) < 1:
            problems.append(f"{where}: attribute group={a['group']} (at least 1)")
        if "auto_pad" in a and attribute_text(a["auto_pad"]) not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
            problems.append(f"{where}: attribute auto_pad={attribute_text(a['auto_pad'])!r}")
        if node.op_type == "Constant":
            if "value" not in a:
                problems.append(f"{where}: only a tensor 'value' attribute is supported")
            else:
                try:
                    numpy_helper.to_array(a["value"])
                except Exception as e:  # noqa: BLE001
                    problems.append(f"{where}: its value cannot be read ({e})")
    for o in m.graph.output:
        if o.name not in defined:
            problems.append(f"graph output '{o.name}' is never computed")
    return problems


def _problems(m) -> list:
    """What check() finds without converting: structure, operators, attributes, graph io."""
    onnx, _ = _onnx()
    problems = _structure_problems(m)
    opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None or opset not in OPSETS:  # onnx_prepare converted the others
        problems.append(f"opset {opset} is not supported (opsets {OPSETS.start}-{OPSETS.stop - 1})")
    consts = {t.name for t in m.graph.initializer}
    consts |= {o for n in m.graph.node if n.op_type == "Constant" for o in n.output}
    elem_type = {t.name: t.data_type for t in m.graph.initializer}
    elem_type.update({n.output[0]: _attrs(n)["value"].data_type for n in m.graph.node
                      if n.op_type == "Constant" and n.output and "value" in _attrs(n)})
    # torch.onnx.export shares equal initializers (an untrained net's batch-norm biases) through
    # Identity nodes: their outputs are constants too, as the builder treats them.
    for n in m.graph.node:
        if n.op_type == "Identity" and n.input and n.output and n.input[0] in consts:
            consts.add(n.output[0])
            if n.input[0] in elem_type:
                elem_type[n.output[0]] = elem_type[n.input[0]]
    for i, node in enumerate(m.graph.node):
        where = _where(node, i)
        if node.op_type in FLOAT_OPERANDS and not any(where in p for p in problems):
            for k in FLOAT_OPERANDS[node.op_type]:
                x = node.input[k] if k < len(node.input) else ""
                if x in elem_type and elem_type[x] != onnx.TensorProto.FLOAT:
                    problems.append(f"{where}: input '{x}' is of type "
                                    f"{onnx.TensorProto.DataType.Name(elem_type[x])} (float32 like the image)")
        if node.domain not in ("", "ai.onnx"):
            problems.append(f"{where}: operator domain '{node.domain}' is not supported")
            continue
        if node.op_type not in SUPPORTED:
            problems.append(f"{where}: operator {node.op_type} is not supported")
            continue
        if any(where in p for p in problems):  # malformed: the checks below would index it
            continue
        a = _attrs(node)
        if node.op_type == "Conv":
            if len(a.get("kernel_shape", [1, 1])) != 2:
                problems.append(f"{where}: attribute kernel_shape={list(a['kernel_shape'])} (only 2-D convolutions)")
            if len(node.input) < 2 or node.input[1] not in consts:
                problems.append(f"{where}: input 'W' must be a constant (initializer)")
            if len(node.input) > 2 and node.input[2] and node.input[2] not in consts:
                problems.append(f"{where}: input 'B' must be a constant (initializer)")
        elif node.op_type in ("MaxPool", "AveragePool"):
            if a.get("ceil_mode", 0) != 0 and node.op_type == "AveragePool" and a.get("count_include_pad", 0):
                problems.append(f"{where}: attribute ceil_mode={a['ceil_mode']} with count_include_pad=1 (ceil_mode "
                                f"only where padding does not count)")
            if any(d != 1 for d in a.get("dilations", [1, 1])):
                problems.append(f"{where}: attribute dilations={list(a['dilations'])} (only 1 is supported)")
            if a.get("storage_order", 0) != 0:
                problems.append(f"{where}: attribute storage_order={a['storage_order']} (only 0 is supported)")
            if len(node.output) > 1 and node.output[1]:
                problems.append(f"{where}: the Indices output is not supported")
            if len(a.get("kernel_shape", [1, 1])) != 2:
                problems.append(f"{where}: attribute kernel_shape={list(a['kernel_shape'])} (only 2-D pooling)")
        elif node.op_type == "Gemm":
            if a.get("transA", 0) != 0:
                problems.append(f"{where}: attribute transA={a['transA']} (only 0 is supported)")
            if node.input[1] not in consts:
                problems.append(f"{where}: input 'B' must be a constant (initializer)")
            if len(node.input) > 2 and node.input[2] and node.input[2] not in consts:
                problems.append(f"{where}: input 'C' must be a constant (initializer)")
        elif node.op_type == "MatMul":
            if node.input[1] not in consts:
                problems.append(f"{where}: input 'B' must be a constant (initializer)")
        elif node.op_type == "BatchNormalization":
            if any(x not in consts for x in node.input[1:5]):
                problems.append(f"{where}: scale, bias, mean and var must be constants")
            if a.get("training_mode", 0) != 0:
                problems.append(f"{where}: attribute training_mode={a['training_mode']} (inference only)")
        elif node.op_type == "Clip":
            lo, hi = _clip_bounds(node, a, m)
            if lo is None or hi is None:
                problems.append(f"{where}: Clip to computed bounds (constants only)")
        elif node.op_type == "ReduceMean":
            if _reduce_axes(node, a, m) is None:
                problems.append(f"{where}: ReduceMean over all axes or computed axes (only listed constant axes)")
        elif node.op_type == "Flatten":
            if a.get("axis", 1) != 1:
                problems.append(f"{where}: attribute axis={a['axis']} (only 1 is supported)")
        elif node.op_type == "HardSigmoid":
            alpha, beta = float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))
            if abs(alpha - 1 / 6) > 1e-6 or abs(beta - 0.5) > 1e-6:
                problems.append(f"{where}: attributes alpha={alpha:g}, beta={beta:g} (only PyTorch's hard sigmoid, "
                                f"alpha=1/6 and beta=0.5)")
        elif node.op_type == "Div":
            if node.input[1] not in consts:
                problems.append(f"{where}: Div by a computed tensor (only by a constant)")
    inputs = [i for i in m.graph.input if i.name not in {t.name for t in m.graph.initializer}]
    if len(inputs) != 1:
        problems.append(f"the graph has {len(inputs)} inputs (exactly one image input is supported)")
    elif len(inputs[0].type.tensor_type.shape.dim) not in (2, 3, 4):
        problems.append(f"graph input '{inputs[0].name}' is {len(inputs[0].type.tensor_type.shape.dim)}-D "
                        f"(4-D NCHW images, 3-D [N, C, L] and 2-D [N, features] tensors are supported)")
    if not 1 <= len(m.graph.output) <= fmt.MAX_OP_ARITY:
        problems.append(f"the graph has {len(m.graph.output)} outputs (1 to {fmt.MAX_OP_ARITY} are supported)")
    elif len({o.name for o in m.graph.output}) != len(m.graph.output):
        problems.append("a graph output is listed twice")
    return problems


def _reduce_axes(node, a, m):
    """ReduceMean's axes: an attribute before opset 18, an input from 18 on."""
    _, numpy_helper = _onnx()
    if "axes" in a:
        return [int(v) for v in a["axes"]]
    if len(node.input) > 1 and node.input[1]:
        for t in m.graph.initializer:
            if t.name == node.input[1]:
                return [int(v) for v in numpy_helper.to_array(t).reshape(-1)]
        for n in m.graph.node:
            if n.op_type == "Constant" and n.output[0] == node.input[1]:
                return [int(v) for v in numpy_helper.to_array(_attrs(n)["value"]).reshape(-1)]
    return None


def _clip_bounds(node, a, m):
    _, numpy_helper = _onnx()
    init = {t.name: t for t in m.graph.initializer}
    const_nodes = {n.output[0]: n for n in m.graph.node if n.op_type == "Constant"}

    def value(name, default):
        if not name:
            return default
        if name in init:
            return float(numpy_helper.to_array(init[name]).reshape(-1)[0])
        if name in const_nodes:
            return float(numpy_helper.to_array(_attrs(const_nodes[name])["value"]).reshape(-1)[0])
        return None  # computed at run time: not supported

    lo = a.get("min", value(node.input[1] if len(node.input) > 1 else "", float("-inf")))
    hi = a.get("max", value(node.input[2] if len(node.input) > 2 else "", float("inf")))
    return lo, hi


@dataclass
class _Value:
    """What an ONNX tensor name stands for in the attocore graph being built."""
    name: str            # attocore tensor name
    flat_4d: bool = False  # a [N, C] tensor standing for ONNX's [N, C, 1, 1]


class _Builder:
    def __init__(self, m):
        _, numpy_helper = _onnx()
        self.m = m
        self.consts = {t.name: numpy_helper.to_array(t).astype(np.float32) if numpy_helper.to_array(t).dtype.kind == "f"
                       else numpy_helper.to_array(t) for t in m.graph.initializer}
        self.tensors, self.ops, self.values = {}, [], {}
        self.consumers = {}
        for n in m.graph.node:
            for x in n.input:
                self.consumers[x] = self.consumers.get(x, 0) + 1
        for o in m.graph.output:
            self.consumers[o.name] = self.consumers.get(o.name, 0) + 1
        self.producer_op = {}  # attocore tensor -> Op that made it
        self.pending = {}  # ONNX tensor -> a channel shuffle's 5-D step (onnx_ops._Shuffle)
        # Why the converted graph holds only at the input size it was converted for (padding
        # or sizes computed from it): recorded in the file, Model.run then does not re-plan.
        self.size_bound = []
        self.batch = 1

    def const(self, name, array):
        a = np.ascontiguousarray(array, np.float32)
        key = name
        k = 1
        while key in self.tensors:
            key, k = f"{name}#{k}", k + 1
        self.tensors[key] = Tensor(key, a.shape, a)
        return key

    def fresh(self, onnx_name):
        key = onnx_name or "t"
        k = 1
        while key in self.tensors:
            key, k = f"{onnx_name}#{k}", k + 1
        return key

    @staticmethod
    def internal(onnx_name, what):
        """The key of a value the importer makes for itself (a 4-D view, a negation, a kept
        axis): a tuple, so no tensor of the model, whose names are strings, can be taken for it
        or overwrite it, whatever it is called."""
        return (onnx_name, what)

    def emit(self, op_type, name, inputs, onnx_out, attrs=None, activation="none", flat_4d=False, out_shape=None):
        """One attocore op; its output's shape is inferred, or for a reshape `out_shape`. onnx_out
        is an ONNX tensor name or an internal() key."""
        out = self.fresh(onnx_out if isinstance(onnx_out, str) else ".".join(onnx_out))
        op = Op(op_type, name, inputs, [out], attrs or {}, activation)
        if out_shape is not None:
            self.tensors[out] = Tensor(out, tuple(out_shape))
        self.tensors[out] = Tensor(out, tuple(infer_output_shape(Graph(None, self.tensors, [], [], []), op)))
        self.ops.append(op)
        self.values[onnx_out] = _Value(out, flat_4d)
        self.producer_op[out] = op
        return op

    def activation_of(self, onnx_name):
        v = self.values.get(onnx_name)
        if v is None and onnx_name in self.pending:
            raise UnsupportedOpError(f"tensor '{onnx_name}' is a 5-D reshape of a feature map read by something other "
                                     f"than a channel shuffle's Transpose and Reshape")
        if v is None:
            raise GraphError(f"tensor '{onnx_name}' is used before it is computed (or is a constant where an "
                             f"activation is expected)")
        return v

    def shape(self, onnx_name):
        return self.tensors[self.activation_of(onnx_name).name].shape

    def as_onnx_rank(self, v, name):
        """v with the shape ONNX gives it: a pooled [N, C] standing for [N, C, 1, 1] becomes that
        4-D tensor (a reshape), for the ops that index dimensions past the channels."""
        if not v.flat_4d:
            return v
        key = self.internal(v.name, "as_4d")
        if key in self.values:  # made for an earlier reader
            return self.values[key]
        c = self.tensors[v.name].shape[1]
        self.emit("reshape", f"{name}.as_4d", [v.name], key, out_shape=(1, c, 1, 1))
        return self.values[key]

    def affine(self, node, v, scale, shift, name):
        """y = x * scale + shift per channel (batch norm, or Add / Sub / Mul / Div by a constant):
        folded into the convolution that made x when nothing else reads it and no activation
        follows it there, otherwise a depthwise 1x1 convolution."""
        scale, shift = np.asarray(scale, np.float64), np.asarray(shift, np.float64)
        op = self.producer_op.get(v.name)
        if (op is not None and op.type in ("conv2d", "conv_transpose") and op.activation == "none"
                and self.consumers.get(node.input[0] if node.input[0] in self.values else node.input[1], 0) == 1
                and len(op.inputs) == 3):
            wname, bname = op.inputs[1], op.inputs[2]
            wt, bias = self.tensors[wname].data.astype(np.float64), self.tensors[bname].data.astype(np.float64)
            if op.type == "conv2d":
                wt = wt * scale.reshape(-1, 1, 1, 1)
            else:  # [in, out / groups, kh, kw]: output channel g * (out / groups) + j
                groups = op.attrs["groups"][0]
                cig, cog = wt.shape[0] // groups, wt.shape[1]
                wt = wt.reshape(groups, cig, cog, *wt.shape[2:]) * scale.reshape(groups, 1, cog, 1, 1)
                wt = wt.reshape(groups * cig, cog, *wt.shape[3:])
            self.tensors[wname].data = wt.astype(np.float32)
            self.tensors[bname].data = (bias * scale + shift).astype(np.float32)
            self.values[node.output[0]] = v
            return
        ch = self.tensors[v.name].shape[1]
        self.emit("conv2d", name, [v.name, self.const(f"{name}.weight", scale.reshape(ch, 1, 1, 1)),
                                   self.const(f"{name}.bias", shift)], node.output[0],
                  {"kernel": (1, 1), "stride": (1, 1), "pad": (0, 0, 0, 0), "dilation": (1, 1), "groups": (ch,)})

    def fuse_activation(self, node, act):
        """Relu/Clip: folded into the producing op when nothing else reads its output."""
        v = self.activation_of(node.input[0])
        op = self.producer_op.get(v.name)
        if (op is not None and op.activation == "none" and self.consumers.get(node.input[0], 0) == 1
                and op.type in ("conv2d", "add", "fully_connected", "maxpool2d", "global_avgpool", "avgpool2d",
                                "conv_transpose", "concat", "resize", "pad")):
            op.activation = act
            self.values[node.output[0]] = v
            return
        self.emit("activation", node.name or node.output[0], [v.name], node.output[0], activation=act,
                  flat_4d=v.flat_4d)


def _pads(a, in_hw, kernel, strides, dilations=(1, 1)):
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for size, k, s, d in zip(in_hw, kernel, strides, dilations):
            out = -(-size // s)
            total = max(0, (out - 1) * s + d * (k - 1) + 1 - size)
            lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
            pads.append((lo, total - lo))
        return (pads[0][0], pads[1][0], pads[0][1], pads[1][1])
    if auto == "VALID":
        return (0, 0, 0, 0)
    p = list(a.get("pads", [0, 0, 0, 0]))
    return (p[0], p[1], p[2], p[3])  # ONNX [h_begin, w_begin, h_end, w_end] = top, left, bottom, right


def convert(model, out_path=None, *, name=None, labels=None, mean=None, std=None, resize=None,
            input_shape=None) -> Graph:
    """Convert an ONNX model (path, bytes or ModelProto) to an attocore Graph; save it if
    out_path is given (atomically: nothing is left at out_path if anything fails). Raises
    UnsupportedOpError listing every problem before converting.

    The file carries the preprocessing attocore.run applies: labels (one per class), mean and
    std (per RGB channel, on the [0, 1] scale), resize (the shorter side before the centre
    crop; 0 resizes straight to the input size; None: 256/224 of a square input), name.
    mean and std: one value per input channel; None gives ImageNet's to a 3-channel input and
    none (0 and 1) to any other. input_shape ('1x3x320x320' or a tuple) fixes the graph input's
    symbolic dimensions (a symbolic batch alone becomes 1)."""
    if out_path is not None:
        fmt.check_output_path(out_path)
    for values, what in ((mean, "mean"), (std, "std")):  # the values now, their count once the model is read
        if values is not None:
            count = len(values) if hasattr(values, "__len__") and not isinstance(values, (str, bytes)) else 3
            preprocessing.check_mean_std(values, what, channels=count)
    m = _load(model)
    qdq = None
    if onnx_qdq.is_qdq(m):  # quantized by onnxruntime (QDQ): its float model, then its own int8 scales
        m, qdq = onnx_qdq.guarded_strip(m)
    symbolic = batch_is_symbolic(m, input_shape)
    problems = batch_sized_ops(m) if symbolic else []
    m, more = _prepared(m, input_shape)
    problems += more
    if problems:
        raise UnsupportedOpError("cannot convert this ONNX model:\n  " + "\n  ".join(problems))
    values = {}
    graph = _convert(m, name, labels, mean, std, resize, values)
    if qdq is not None:
        graph = onnx_qdq.to_int8(graph, values, qdq)
    if resize is not None:
        preprocessing.check_resize(resize, tuple(graph.metadata.input_shape[1:]))
    if out_path is not None:
        fmt.save(graph, out_path)
    return graph


def _convert(m, name=None, labels=None, mean=None, std=None, resize=None, values=None):
    """The conversion of a model _problems() found nothing wrong with. What those checks cannot
    see before converting (shapes) raises attocore's errors; a malformed leftover that still
    trips Python's own (an index, a key) is reported as a GraphError, never raw."""
    try:
        return _build(m, name, labels, mean, std, resize, values)
    except (AttocoreError, preprocessing.NormalisationError):
        raise
    except (IndexError, KeyError, ValueError, TypeError, AttributeError, ArithmeticError) as e:
        raise GraphError(f"malformed ONNX model: {type(e).__name__}: {e}") from e


def _silu_gates(m) -> dict:
    """{Sigmoid output: its input} for each x * sigmoid(x) (how exporters write SiLU / Swish)
    whose sigmoid feeds nothing but that Mul: the pair converts to one SiLU activation."""
    readers = {}
    for n in m.graph.node:
        for x in n.input:
            readers.setdefault(x, []).append(n)
    outputs = {o.name for o in m.graph.output}
    gates = {}
    for n in m.graph.node:
        if n.op_type != "Sigmoid" or n.output[0] in outputs or len(readers.get(n.output[0], [])) != 1:
            continue
        mul = readers[n.output[0]][0]
        if mul.op_type == "Mul" and sorted(mul.input) == sorted([n.input[0], n.output[0]]):
            gates[n.output[0]] = n.input[0]
    return gates


_OP_CONVERTERS = {"Concat": onnx_ops.concat, "Split": onnx_ops.split, "Slice": onnx_ops.slice_,
                  "Transpose": onnx_ops.transpose, "Resize": onnx_ops.resize, "Upsample": onnx_ops.resize,
                  "ConvTranspose": onnx_ops.conv_transpose, "LeakyRelu": onnx_ops.leaky_relu,
                  "PRelu": onnx_ops.prelu, "Pad": onnx_ops.pad, "Expand": onnx_ops.expand,
                  "Squeeze": onnx_ops.squeeze, "Unsqueeze": onnx_ops.squeeze}


def _target(b, node):
    """A Reshape's constant target shape, as a list (empty when it is computed)."""
    return [int(v) for v in np.asarray(b.consts.get(node.input[1], [])).reshape(-1)]


def _bias_after_matmul(b, node) -> bool:
    """Add of a constant to a fully connected layer's output: its bias (MatMul + Add)."""
    x = next((x for x in node.input if x not in b.consts), None)
    v = b.values.get(x)
    op = b.producer_op.get(v.name) if v is not None else None
    return op is not None and op.type == "fully_connected"


def _ceil_mode_pads(in_hw, kernel, strides, pads, where):
    """A pool's ceil_mode as extra padding at the bottom and right: ONNX's and PyTorch's
    ceil((size + pads - kernel) / stride) + 1 windows, the last starting inside the input or its
    top / left padding. Padding never wins a max, and an average that does not count padding
    divides by the positions inside the image: the same results."""
    pt, pl, pb, pr = pads
    extra = []
    for size, k, s, lo, hi in zip(in_hw, kernel, strides, (pt, pl), (pb, pr)):
        out = -(-(size + lo + hi - k) // s) + 1
        if (out - 1) * s >= size + lo:
            out -= 1
        extra.append(max(0, (out - 1) * s + k - (size + lo + hi)))
    pads = (pt, pl, pb + extra[0], pr + extra[1])
    if pads[2] >= kernel[0] or pads[3] >= kernel[1]:
        raise UnsupportedOpError(f"{where}: attribute ceil_mode=1 needs padding {pads} as large as the kernel "
                                 f"{list(kernel)}")
    return pads


def _is_spatial_mean(b, node, axes) -> bool:
    """ReduceMean over H and W of a feature map: the global average pool."""
    v = b.activation_of(node.input[0])
    shape = b.tensors[v.name].shape
    return (len(shape) == 4 and not v.flat_4d and axes is not None
            and sorted(ax % 4 for ax in axes) == [2, 3])


def _build(m, name, labels, mean, std, resize, values=None) -> Graph:
    """The attocore graph of a prepared model; `values`, if given, receives the builder's map
    from ONNX tensor names to attocore tensors (the QDQ import places its scales by it)."""
    onnx, numpy_helper = _onnx()
    b = _Builder(m)
    if values is not None:
        b.values = values
    init_names = set(b.consts)
    g_in = next(i for i in m.graph.input if i.name not in init_names)
    dims = [d.dim_value for d in g_in.type.tensor_type.shape.dim]
    batch = dims[0] if dims[0] > 0 else 1
    b.batch = batch  # ONNX's batch dimension, which attocore stores as 1
    features = len(dims) == 2  # an MLP-style [N, F] input
    sequence = len(dims) == 3  # an [N, C, L] input (a signal, or a head's tensor on its own)
    c, h, w = (dims[1], 1, 1) if features else (dims[1], 1, dims[2]) if sequence else (dims[1], dims[2], dims[3])
    if min(c, h, w) < 1:
        raise GraphError(f"graph input '{g_in.name}' needs fixed C, H, W (got {dims})")
    if features or sequence:
        # Carried as [N, F, 1, 1] or [N, C, 1, L] (the executor's input is NCHW), then made the
        # [N, F] or [N, C, L] the graph's operators take (a pool over the 1x1, exact; a
        # reshape that moves nothing). No image normalisation: this is not an image.
        mean = (0.0,) * c if mean is None else mean
        std = (1.0,) * c if std is None else std
    mean, std = preprocessing.normalisation(mean, std, c)
    b.tensors["input"] = Tensor("input", (1, c, h, w))
    if features:
        b.emit("global_avgpool", f"{g_in.name}.as_features", ["input"], g_in.name)
    elif sequence:
        b.emit("reshape", f"{g_in.name}.as_sequence", ["input"], g_in.name, out_shape=(1, c, w))
    else:
        b.values[g_in.name] = _Value("input")

    silu_gates = _silu_gates(m)
    for i, node in enumerate(m.graph.node):
        try:
            _convert_node(b, m, i, node, silu_gates, batch)
        except (GraphError, UnsupportedOpError) as e:
            if f"node '{node.name or f'#{i}'}'" in str(e):
                raise
            raise type(e)(f"{_where(node, i)}: {e}") from e
    return _finish(b, m, g_in, name, labels, mean, std, resize, c, h, w, len(dims) if features or sequence else 4)


def _convert_node(b, m, i, node, silu_gates, batch):
    """Node i's attocore ops, emitted into the builder."""
    _, numpy_helper = _onnx()
    a = _attrs(node)
    if attribute_text(a.get("auto_pad", "NOTSET")) in ("SAME_UPPER", "SAME_LOWER"):
        b.size_bound.append(f"{_where(node, i)}: auto_pad={attribute_text(a['auto_pad'])} padding computed for this size")
    if a.get("ceil_mode", 0):
        b.size_bound.append(f"{_where(node, i)}: ceil_mode=1 padding computed for this size")
    nm = node.name or f"{node.op_type.lower()}_{i}"
    t = node.op_type
    if t == "Constant":
        b.consts[node.output[0]] = numpy_helper.to_array(a["value"])
    elif t == "Identity":
        if node.input[0] in b.consts:
            b.consts[node.output[0]] = b.consts[node.input[0]]
        else:
            b.values[node.output[0]] = b.activation_of(node.input[0])
    elif t == "Conv":
        x = b.activation_of(node.input[0])
        wt = b.consts[node.input[1]].astype(np.float32)
        if wt.ndim != 4:
            raise GraphError(f"{_where(node, i)}: weight of shape {list(wt.shape)} (2-D convolutions take 4-D "
                             f"weights)")
        bias = (b.consts[node.input[2]].astype(np.float32) if len(node.input) > 2 and node.input[2]
                else np.zeros(wt.shape[0], np.float32))
        if x.flat_4d:  # a 1x1 convolution of a pooled [N, C, 1, 1] vector (a squeeze-and-excitation FC)
            pads = [int(v) for v in a.get("pads", [0, 0, 0, 0])]
            if wt.shape[2:] != (1, 1) or int(a.get("group", 1)) != 1 or any(pads) or \
                    attribute_text(a.get("auto_pad", "NOTSET")) not in ("NOTSET", "VALID"):
                raise UnsupportedOpError(f"{_where(node, i)}: a convolution of a pooled 1x1 map other than a "
                                         f"1x1, ungrouped, unpadded one")
            b.emit("fully_connected", nm, [x.name, b.const(f"{nm}.weight", wt.reshape(wt.shape[0], -1)),
                                           b.const(f"{nm}.bias", bias)], node.output[0], flat_4d=True)
            return
        kernel = tuple(a.get("kernel_shape", wt.shape[2:]))
        strides = tuple(a.get("strides", [1, 1]))
        xs = b.tensors[x.name].shape
        dilations = tuple(int(d) for d in a.get("dilations", [1, 1]))
        b.emit("conv2d", nm, [x.name, b.const(f"{nm}.weight", wt), b.const(f"{nm}.bias", bias)], node.output[0],
               {"kernel": kernel, "stride": strides, "pad": _pads(a, xs[2:], kernel, strides, dilations),
                "dilation": dilations, "groups": (int(a.get("group", 1)),)})
    elif t == "BatchNormalization":
        scale, beta, mu, var = (b.consts[n].astype(np.float64) for n in node.input[1:5])
        k = scale / np.sqrt(var + float(a.get("epsilon", 1e-5)))
        x = b.activation_of(node.input[0])
        if len(b.tensors[x.name].shape) != 4 or x.flat_4d:
            raise UnsupportedOpError(f"{_where(node, i)}: BatchNormalization of a "
                                     f"{len(b.tensors[x.name].shape)}-D tensor (only feature maps)")
        b.affine(node, x, k, beta - mu * k, nm)
    elif t == "Relu":
        b.fuse_activation(node, "relu")
    elif t in ("Sigmoid", "HardSigmoid", "HardSwish"):
        if node.output[0] in silu_gates:
            return  # x * sigmoid(x): the Mul reading it becomes one SiLU activation
        kind = {"Sigmoid": "sigmoid", "HardSigmoid": "hardsigmoid", "HardSwish": "hardswish"}[t]
        v = b.activation_of(node.input[0])
        b.emit("activation", nm, [v.name], node.output[0], activation=kind, flat_4d=v.flat_4d)
    elif t == "Mul":
        gate = next((x for x in node.input if x in silu_gates), None)
        if gate is not None:
            v = b.activation_of(silu_gates[gate])
            b.emit("activation", nm, [v.name], node.output[0], activation="silu", flat_4d=v.flat_4d)
            return
        if onnx_ops.affine_by_constant(b, node, _where(node, i), nm):
            return
        x, s = b.activation_of(node.input[0]), b.activation_of(node.input[1])
        xs, ss = b.tensors[x.name].shape, b.tensors[s.name].shape
        if len(xs) == 2 and len(ss) == 4:  # the scale first: attocore's mul takes x first
            x, s, xs, ss = s, x, ss, xs
        same = xs == ss and x.flat_4d == s.flat_4d  # [N, C] standing for [N, C, 1, 1] is not [N, C]
        if not (same or (len(xs) == 4 and len(ss) == 2 and s.flat_4d and ss[1] == xs[1])):
            raise UnsupportedOpError(f"{_where(node, i)}: Mul of shapes {xs} and {ss} (two tensors of one shape, "
                                     f"or a feature map and a per-channel [N, C, 1, 1] scale)")
        b.emit("mul", nm, [x.name, s.name], node.output[0], flat_4d=x.flat_4d)
    elif t == "Clip":
        lo, hi = _clip_bounds(node, a, m)
        if lo == 0.0 and hi in (6.0, float("inf")):
            b.fuse_activation(node, "relu6" if hi == 6.0 else "relu")
        else:
            onnx_ops.clip(b, node, lo, hi, nm)
    elif t in ("Sub", "Div"):
        if not onnx_ops.affine_by_constant(b, node, _where(node, i), nm):
            if t == "Div":
                raise UnsupportedOpError(f"{_where(node, i)}: Div of a {b.shape(node.input[0])} tensor by a "
                                         f"computed one (only by a constant)")
            onnx_ops.sub(b, node, _where(node, i), nm)
    elif t == "Add":
        if (node.input[1] in b.consts or node.input[0] in b.consts) and not _bias_after_matmul(b, node) and \
                onnx_ops.affine_by_constant(b, node, _where(node, i), nm):
            return
        if node.input[1] in b.consts or node.input[0] in b.consts:
            x_name, c_name = (node.input[0], node.input[1]) if node.input[1] in b.consts else (node.input[1],
                                                                                                node.input[0])
            x = b.activation_of(x_name)
            op = b.producer_op.get(x.name)
            cval = np.asarray(b.consts[c_name], np.float32).reshape(-1)
            if (op is not None and op.type == "fully_connected" and len(op.inputs) == 3
                    and b.consumers.get(x_name, 0) == 1 and cval.size == b.tensors[op.inputs[2]].data.size):
                b.tensors[op.inputs[2]].data = b.tensors[op.inputs[2]].data + cval  # MatMul + Add bias
                b.values[node.output[0]] = x
            else:
                onnx_ops.eltwise_by_constant(b, node, _where(node, i), nm, x, b.consts[c_name],
                                             c_name == node.input[0])
        else:
            x0, x1 = b.activation_of(node.input[0]), b.activation_of(node.input[1])
            if b.tensors[x0.name].shape != b.tensors[x1.name].shape or x0.flat_4d != x1.flat_4d:
                raise UnsupportedOpError(f"{_where(node, i)}: broadcasting Add of shapes "
                                         f"{b.tensors[x0.name].shape} and {b.tensors[x1.name].shape}")
            b.emit("add", nm, [x0.name, x1.name], node.output[0], flat_4d=x0.flat_4d)
    elif t in ("MaxPool", "AveragePool"):
        x = b.activation_of(node.input[0])
        kernel = tuple(a["kernel_shape"])
        strides = tuple(a.get("strides", [1, 1]))
        pads = _pads(a, b.tensors[x.name].shape[2:], kernel, strides)
        if a.get("ceil_mode", 0):
            pads = _ceil_mode_pads(b.tensors[x.name].shape[2:], kernel, strides, pads, _where(node, i))
        attrs = {"kernel": kernel, "stride": strides, "pad": pads}
        if t == "AveragePool":
            attrs["count_include_pad"] = (int(a.get("count_include_pad", 0)),)
        b.emit("maxpool2d" if t == "MaxPool" else "avgpool2d", nm, [x.name], node.output[0], attrs)
    elif t == "ReduceMean" and not _is_spatial_mean(b, node, _reduce_axes(node, a, m)):
        onnx_ops.reduce_mean(b, node, a, _where(node, i), nm, _reduce_axes(node, a, m))
    elif t in ("GlobalAveragePool", "ReduceMean"):
        x = b.activation_of(node.input[0])
        keep = t == "GlobalAveragePool" or bool(a.get("keepdims", 1))
        b.emit("global_avgpool", nm, [x.name], node.output[0], flat_4d=keep)
    elif t == "Reshape" and onnx_ops.finish_shuffle(b, node, _where(node, i), nm, _target(b, node)):
        return
    elif t in ("Flatten", "Reshape"):
        x = b.activation_of(node.input[0])
        shape = b.tensors[x.name].shape
        if t == "Reshape" and len(shape) == 4 and not x.flat_4d and \
                onnx_ops.reshape_5d(b, node, _where(node, i), x, shape, _target(b, node)):
            return
        # Flatten (axis 1, which _problems checks) is a Reshape to [N, C * H * W].
        target = [batch, int(np.prod(shape[1:]))] if t == "Flatten" else _target(b, node)
        onnx_ops.reshape(b, node, a, _where(node, i), nm, x, target, batch)
    elif t in _OP_CONVERTERS:
        _OP_CONVERTERS[t](b, node, a, _where(node, i), nm)
    elif t == "Softmax":
        onnx_ops.softmax(b, node, a, _where(node, i), nm, opset_of(m))
    elif t == "Tanh":
        v = b.activation_of(node.input[0])
        b.emit("activation", nm, [v.name], node.output[0], activation="tanh", flat_4d=v.flat_4d)
    elif t in ("Gemm", "MatMul"):
        x = b.activation_of(node.input[0])
        wt = np.asarray(b.consts[node.input[1]], np.float32)
        if t == "Gemm":
            alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
            wt = (wt if a.get("transB", 0) else wt.T) * alpha  # -> [out, in]
            bias = (np.asarray(b.consts[node.input[2]], np.float32).reshape(-1) * beta
                    if len(node.input) > 2 and node.input[2] else np.zeros(wt.shape[0], np.float32))
            if bias.size == 1:  # a scalar C broadcasts over the outputs
                bias = np.full(wt.shape[0], bias[0], np.float32)
        else:
            wt = wt.T
            bias = np.zeros(wt.shape[0], np.float32)
        if len(b.tensors[x.name].shape) != 2:
            raise UnsupportedOpError(f"{_where(node, i)}: {t} on a {len(b.tensors[x.name].shape)}-D input "
                                     f"(only [N, features])")
        if bias.size != wt.shape[0]:
            raise UnsupportedOpError(f"{_where(node, i)}: bias of {bias.size} values for {wt.shape[0]} outputs")
        b.emit("fully_connected", nm, [x.name, b.const(f"{nm}.weight", wt), b.const(f"{nm}.bias", bias)],
               node.output[0])


def _finish(b, m, g_in, name, labels, mean, std, resize, c, h, w, input_rank) -> Graph:
    """The graph of the converted nodes: its output, unused tensors dropped, metadata."""
    outs, seen = [], {}  # every graph output, in the model's order (feature maps stay NCHW)
    for o in m.graph.output:
        v = b.activation_of(o.name)
        if v.name == "input":
            raise UnsupportedOpError(f"the graph output '{o.name}' is its input: nothing to compute")
        if v.name in seen:
            raise UnsupportedOpError(f"graph outputs '{seen[v.name]}' and '{o.name}' are the same tensor (an "
                                     f"Identity between them): give it once")
        seen[v.name] = o.name
        outs.append(v)
    if len(outs) > 1:  # several: each output tensor takes its ONNX name (where that is free)
        _rename_outputs(b, [o.name for o in m.graph.output], outs)
    out = outs[0]
    # Drop tensors nothing refers to (constants replaced by folding).
    used = {n for op in b.ops for n in op.inputs + op.outputs} | {"input"}
    tensors = {k: v for k, v in b.tensors.items() if k in used}
    n_classes = int(np.prod(tensors[out.name].shape[1:]))  # labels name the first output's elements
    # Class names for a classifier's [N, classes] output (a single one); a feature map (a
    # detector's head, a segmentation map) has none.
    default_labels = tuple(f"class_{k}" for k in range(n_classes)) \
        if len(tensors[out.name].shape) == 2 and len(outs) == 1 else ()
    extra = {"source": "attocore.onnx.convert", "trained": "true"}
    if b.size_bound:  # Model.run re-plans for other sizes only where nothing was computed from this one
        reason = "; ".join(b.size_bound[:3]) + (" ..." if len(b.size_bound) > 3 else "")
        extra["fixed_input_size"] = reason if len(reason) <= 1000 else reason[:997] + "..."  # a file string: <= 4096 bytes
    if input_rank != 4:  # Model.run takes [N, F] or [N, C, L]; the executor sees [N, F, 1, 1] or [N, C, 1, L]
        extra["input_rank"] = str(input_rank)
    md = Metadata(name=name or m.graph.name or "onnx-model", input_shape=(c, h, w), mean=tuple(mean), std=tuple(std),
                  resize=(round(h * 256 / 224) if h == w and input_rank == 4 else 0) if resize is None else resize,
                  labels=tuple(labels) if labels else default_labels,
                  extra=extra)
    graph = Graph(md, tensors, b.ops, ["input"], [v.name for v in outs])
    validate(graph)
    for i, v in enumerate(outs):
        _check_output_shape(m, graph, v, i)
    return graph


def _rename_outputs(b, onnx_names, outs) -> None:
    """Names each output tensor as the ONNX graph output it is (a fused Relu leaves the
    producer's name on it), so Model.output_names are the ONNX model's; a name some other
    tensor already has is left as it is."""
    rename = {}
    for want, v in zip(onnx_names, outs):
        if v.name != want and want not in b.tensors and want not in rename.values():
            rename[v.name] = want
    if not rename:
        return
    b.tensors = {rename.get(k, k): (Tensor(rename[k], t.shape, t.data, t.dtype, t.scales, t.zero_point)
                                    if k in rename else t) for k, t in b.tensors.items()}
    for op in b.ops:
        op.inputs = [rename.get(n, n) for n in op.inputs]
        op.outputs = [rename.get(n, n) for n in op.outputs]
    seen = set()
    for v in list(b.values.values()) + list(outs):  # one _Value may stand for several ONNX names
        if id(v) not in seen:
            seen.add(id(v))
            v.name = rename.get(v.name, v.name)


def _check_output_shape(m, graph, out, index=0):
    """The converted output against the shape ONNX's inference gave it (onnx_prepare): a
    mismatch is a conversion attocore got wrong, refused rather than run. [N, C] standing for
    ONNX's [N, C, 1, 1] (a pooled vector) is the same values."""
    dims = m.graph.output[index].type.tensor_type.shape.dim
    onnx_shape = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    if not onnx_shape or None in onnx_shape[1:]:
        return  # not inferred: nothing to compare
    ours = list(graph.tensors[out.name].shape[1:])
    theirs = onnx_shape[1:]
    if out.flat_4d and len(theirs) == 3 and theirs[1:] == [1, 1]:
        theirs = theirs[:1]
    if ours != theirs:
        raise GraphError(f"graph output '{m.graph.output[index].name}': converted to shape {['N'] + ours}, but ONNX "
                         f"infers {['N'] + theirs}: this model uses a broadcast or layout attocore does not convert")
