"""Before attocore matches an ONNX graph, the ecosystem's own tools bring it to one form:

1. the graph input's dimensions fixed: exporters leave batch, height and width symbolic, and
   the shape-computing subgraphs they emit (Shape, Gather, Concat, Reshape...) fold to
   constants only once the input shape is known (`input_shape=`, `--input-shape 1x3x320x320`;
   a symbolic batch alone becomes 1);
2. the opset moved into the range the importer reads (11-21) by `onnx.version_converter`, so
   files of opsets 7-23 import;
3. constants folded and dead nodes dropped by onnxslim, a maintained ONNX simplifier (chosen
   over onnx-simplifier: pure Python, no ONNX Runtime in the loop, and maintained with the
   exporters whose output it folds);
4. ONNX's strict shape inference, so an inconsistent graph is refused here with ONNX's own
   words rather than half-way through attocore's conversion.

Each step's failure is one of attocore's typed errors naming the step; nothing here changes what
the model computes.
"""
from __future__ import annotations

import contextlib
import io
import re

from ..errors import GraphError, ResourceLimitError, UnsupportedOpError

ACCEPTED_OPSETS = range(7, 26)
READ_OPSETS = range(11, 22)  # what the importer's operator rules are written for
UPGRADE_TO = 13              # older files: the first opset with Clip's bounds and Split's sizes as inputs
DOWNGRADE_TO = 21            # newer files: 22-25 changed these operators' type lists only
# The largest constant folding may compute: a 300-byte file can ask for a tensor of any size
# (ConstantOfShape of [n, n]); attocore's weights are far below this.
MAX_FOLDED_ELEMENTS = 1 << 24


def refusal(cls, message: str, step: str):
    """An attocore error carrying which step refused (`.prepare_step`): the importer reports a
    refusal of the input shape alone (the operators behind it may fold away once it is given),
    and adds its own words to a shape-inference refusal."""
    error = cls(message)
    error.prepare_step = step
    return error


MAX_INPUT_DIMS = 8


def parse_input_shape(text) -> tuple:
    """'1x3x320x320' (or '1,3,320,320', or a sequence of ints) -> (1, 3, 320, 320): at most
    MAX_INPUT_DIMS dimensions, each an int >= 1 written in decimal digits."""
    if isinstance(text, str):
        if not re.fullmatch(r"\s*\d+(\s*[x,]\s*\d+)*\s*", text.lower()):
            raise ValueError(f"an input shape is N x C x H x W in digits, such as 1x3x224x224, got {text!r:.60}")
        dims = tuple(int(p) for p in re.split(r"\s*[x,]\s*", text.strip().lower()))
    elif isinstance(text, (list, tuple)) and all(isinstance(d, int) and not isinstance(d, bool) for d in text):
        dims = tuple(text)
    else:
        raise ValueError(f"an input shape is a string such as '1x3x224x224' or a sequence of ints, got {text!r:.60}")
    if not dims or len(dims) > MAX_INPUT_DIMS or any(d < 1 or d > 1 << 24 for d in dims):
        raise ValueError(f"an input shape has 1 to {MAX_INPUT_DIMS} dimensions, each an int from 1 to 2^24, "
                         f"got {text!r:.60}")
    return dims


def opset_of(m):
    return next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), None)


def image_inputs(m) -> list:
    initializers = {t.name for t in m.graph.initializer}
    return [i for i in m.graph.input if i.name not in initializers]


def batch_is_symbolic(m, input_shape=None) -> bool:
    """Whether fix_input_shape will set a symbolic batch to 1 on its own (no input_shape): the
    converted model then runs at any N, so the importer refuses ops that address the batch by
    its size (a Slice of it, a Reshape with a literal first dimension)."""
    inputs = image_inputs(m) if input_shape is None else []
    if len(inputs) != 1 or not inputs[0].type.tensor_type.shape.dim:
        return False
    d = inputs[0].type.tensor_type.shape.dim[0]
    return not (d.HasField("dim_value") and d.dim_value > 0)


def batch_sized_ops(m) -> list:
    """In a model whose batch is symbolic, the ops that take the batch's size from a constant
    of the file, as problems: a Slice of the batch axis (once fix_input_shape sets the batch
    to 1, onnxslim drops a [0:1] of it as doing nothing: every image would come back where
    ONNX Runtime returns one) and a Reshape whose constant target starts with a literal size
    (a [1, -1] merges the images in ONNX Runtime). A target computed from the input's shape
    (Shape, Gather: the exporters' way of writing x.view(n, ...)) folds to the batch once it is
    fixed, so it is let through; so are a Slice's computed axes."""
    import numpy as np
    from onnx import numpy_helper
    def readable(t):  # an unreadable constant is the structure check's to report, by name
        try:
            return numpy_helper.to_array(t)
        except Exception:  # noqa: BLE001 - onnx raises ValueError, TypeError or struct.error here
            return None

    consts = {t.name: readable(t) for t in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value" and n.output:
            consts[n.output[0]] = readable(n.attribute[0].t)
    consts = {name: a for name, a in consts.items() if a is not None}
    problems = []
    for k, n in enumerate(m.graph.node):
        if n.op_type == "Reshape" and len(n.input) > 1 and n.input[1] in consts:
            target = consts[n.input[1]].reshape(-1)
            if target.size and int(target[0]) not in (0, -1):
                problems.append(f"node '{n.name or f'#{k}'}' (Reshape): Reshape to {target.tolist()} in a model whose "
                                f"batch is symbolic (its first dimension must be 0 or -1 to keep the batch; or "
                                f"fix the batch with --input-shape)")
        if n.op_type != "Slice":
            continue
        if len(n.input) >= 3:
            starts, ends = consts.get(n.input[1]), consts.get(n.input[2])
            axes = consts.get(n.input[3]) if len(n.input) > 3 and n.input[3] else None
        else:  # opset 1-9: attributes
            at = {a.name: np.array(a.ints) for a in n.attribute}
            starts, ends, axes = at.get("starts"), at.get("ends"), at.get("axes")
        if axes is None and starts is not None and not (len(n.input) > 3 and n.input[3]):
            axes = np.arange(starts.size)
        if starts is None or ends is None or axes is None:
            continue
        for start, end, axis in zip(starts.reshape(-1), ends.reshape(-1), np.asarray(axes).reshape(-1)):
            if int(axis) == 0 and not (int(start) == 0 and int(end) >= 2**31 - 1):
                problems.append(f"node '{n.name or f'#{k}'}' (Slice): Slice [{int(start)}:{int(end)}] of the batch axis "
                                f"in a model whose batch is symbolic (fix the batch with --input-shape, or slice "
                                f"the other axes only)")
    return problems


def fix_input_shape(m, input_shape=None):
    """Set the one graph input's dimensions: `input_shape` where given (it must agree with the
    fixed ones), else batch 1 when only the batch is symbolic; other symbolic dimensions need
    `input_shape`."""
    inputs = image_inputs(m)
    if len(inputs) != 1:
        return m  # the importer refuses it, with the count, among its other problems
    dims = inputs[0].type.tensor_type.shape.dim
    declared = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else (d.dim_param or "unknown")
                for d in dims]
    name = inputs[0].name
    if input_shape is not None:
        want = parse_input_shape(input_shape)
        if len(want) != len(dims):
            raise refusal(GraphError, f"input shape {'x'.join(map(str, want))} has {len(want)} dimensions; graph input "
                             f"'{name}' has {len(dims)} ({declared})", "input shape")
        clash = [k for k, d in enumerate(declared) if isinstance(d, int) and d != want[k]]
        if clash:
            raise refusal(GraphError, f"input shape {'x'.join(map(str, want))} disagrees with graph input '{name}', whose "
                             f"dimension {clash[0]} is fixed at {declared[clash[0]]} ({declared})", "input shape")
    else:
        symbolic = [k for k, d in enumerate(declared) if not isinstance(d, int)]
        if [k for k in symbolic if k != 0]:
            example = "x".join(str(d) if isinstance(d, int) else "1" if k == 0 else str(d).upper()
                               for k, d in enumerate(declared))
            raise refusal(GraphError, f"graph input '{name}' has symbolic dimensions {declared}: give its shape with "
                             f"--input-shape (input_shape= in Python), such as {example} with numbers", "input shape")
        want = tuple(d if isinstance(d, int) else 1 for d in declared)
    if tuple(declared) == want:
        return m
    fixed = type(m)()
    fixed.CopyFrom(m)  # never the caller's ModelProto: it may convert it again at another shape
    m = fixed
    dims = image_inputs(m)[0].type.tensor_type.shape.dim
    for d, v in zip(dims, want):
        d.Clear()
        d.dim_value = v
    # Shapes of intermediate values were derived from the symbolic ones: inference redoes them.
    del m.graph.value_info[:]
    for o in m.graph.output:
        o.type.tensor_type.ClearField("shape")
    return m


def convert_opset(m):
    """Move the default-domain opset into READ_OPSETS with ONNX's version converter."""
    import onnx
    from onnx import version_converter
    opset = opset_of(m)
    if opset is None:
        raise UnsupportedOpError("the model imports no default-domain (ai.onnx) opset")
    if opset not in ACCEPTED_OPSETS:
        raise UnsupportedOpError(f"opset {opset} is not supported (opsets {ACCEPTED_OPSETS.start}-"
                                 f"{ACCEPTED_OPSETS.stop - 1}; {READ_OPSETS.start}-{READ_OPSETS.stop - 1} as they are, "
                                 f"the others converted by onnx.version_converter)")
    if opset in READ_OPSETS:
        return m
    target = UPGRADE_TO if opset < READ_OPSETS.start else DOWNGRADE_TO
    try:
        converted = version_converter.convert_version(m, target)
    except (onnx.checker.ValidationError, RuntimeError, ValueError, IndexError) as e:
        raise UnsupportedOpError(f"opset {opset}: onnx.version_converter cannot convert this model to opset "
                                 f"{target}: {first_line(e)}") from e
    return converted


def check_foldable_sizes(m):
    """Refuse, before folding computes it, a value that depends on no graph input (so folding
    would compute it) and whose inferred shape holds more than MAX_FOLDED_ELEMENTS."""
    computed = {i.name for i in image_inputs(m)}
    for n in m.graph.node:
        if any(x in computed for x in n.input):
            computed.update(n.output)
    for v in list(m.graph.value_info) + list(m.graph.output):
        if v.name in computed or not v.type.HasField("tensor_type"):
            continue
        elements = 1
        for d in v.type.tensor_type.shape.dim:
            elements *= d.dim_value if d.HasField("dim_value") else 1
        if elements > MAX_FOLDED_ELEMENTS:
            raise ResourceLimitError(f"the constant '{v.name}' would hold {elements} elements (folding computes at "
                                     f"most 2^24)")


# onnxslim 0.1.98's Conv / ConvTranspose + Mul fusion takes any constant whose squeeze has one
# dimension of the output channel count for a per-channel scale: a [C] constant, which ONNX
# broadcasts along the width, was folded into the weights per channel (a wrong answer found by
# the adversarial review on a 6-channel map 6 wide). attocore's importer folds a true
# per-channel Mul into the producing convolution itself (Builder.affine), so these two stay off.
SKIPPED_FUSIONS = ["FusionConvMul", "FusionConvTransposeMul"]


def fold_constants(m):
    """onnxslim's constant folding and dead-node removal (its operator fusions too, but for
    SKIPPED_FUSIONS). Its progress output is kept off the user's terminal."""
    try:
        import onnxslim
    except ImportError as e:
        raise ImportError('ONNX import needs onnxslim: pip install "attocore[onnx]"', name="onnxslim") from e
    check_foldable_sizes(m)
    quiet = io.StringIO()
    try:
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            return onnxslim.slim(m, size_threshold=4 * MAX_FOLDED_ELEMENTS, skip_fusion_patterns=SKIPPED_FUSIONS)
    except Exception:  # noqa: BLE001 - onnxslim 0.1's own bugs (an IndexError on Resize with `axes`)
        # The model as it is, which ONNX's shape inference accepted: a shape computation that
        # folding would have removed is then refused by the importer naming its node, and a
        # model with nothing to fold converts.
        return m


def infer_shapes(m):
    import onnx
    try:
        return onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True, data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError, RuntimeError) as e:
        raise refusal(GraphError, f"ONNX shape inference refuses this model: {first_line(e)}",
                      "shape inference") from e


def prepare(m, input_shape=None):
    """The four steps, in order, on a structurally sound ModelProto (the importer's own
    structure check runs first: these tools assume a well-formed graph)."""
    m = fix_input_shape(m, input_shape)
    m = convert_opset(m)
    m = infer_shapes(m)
    m = fold_constants(m)
    return infer_shapes(m)


def first_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 300 else text[:300] + "..."
