"""Cases an adversarial review of the rank 2-4 tensors and layout ops found (each was a
conversion that ran but disagreed with ONNX Runtime, a 4 GiB allocation from a 5 KB file, or
a CLI command failing on a 3-D-input model). Each test states what must happen: the same
values as ONNX Runtime, or a refusal naming the reason."""
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import attocore  # noqa: E402
from attocore.errors import AttocoreError  # noqa: E402
from attocore.onnx import convert  # noqa: E402


def _model(nodes, dims, inits, path, opset=17):
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    path.write_bytes(m.SerializeToString())
    return path


def _ort(path, x):
    import onnxruntime as ort
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def _converted_matches_or_refused(path, x, tmp_path):
    ref = _ort(path, x)
    try:
        convert(str(path), str(tmp_path / "m.atto"))
    except AttocoreError:
        return  # refused by name: fine
    got = attocore.load(str(tmp_path / "m.atto")).run(x)
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max()


def _conv_inits(rng):
    return [numpy_helper.from_array(rng.standard_normal((6, 4, 1, 1)).astype(np.float32), "w"),
            numpy_helper.from_array(np.zeros(6, np.float32), "b")]


def test_one_value_constant_of_higher_rank_raises_the_rank(tmp_path, rng):
    """x [1,6,5,6] * c [1,1,1,1,1] is 5-D in ONNX: a Softmax over its axis 1 (size 1) gives ones.
    The importer folded c as a scalar into the 4-D layout (softmax over the channels)."""
    inits = _conv_inits(rng) + [numpy_helper.from_array(np.full((1, 1, 1, 1, 1), 1.5, np.float32), "k"),
                                numpy_helper.from_array(np.array([1, 6, 5, 6], np.int64), "sh")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"]), helper.make_node("Mul", ["c", "k"], ["m"]),
             helper.make_node("Softmax", ["m"], ["s"], axis=1), helper.make_node("Reshape", ["s", "sh"], ["y"])]
    path = _model(nodes, [1, 4, 5, 6], inits, tmp_path / "rank5.onnx")
    _converted_matches_or_refused(path, rng.standard_normal((1, 4, 5, 6)).astype(np.float32), tmp_path)


def test_mul_by_a_constant_along_w_after_a_conv(tmp_path, rng):
    """Conv to 6 channels on a W = 6 map, then Mul by a [6] constant (broadcast along W): the
    prepare step's onnxslim fused it into the convolution as a per-channel scale."""
    inits = _conv_inits(rng) + [numpy_helper.from_array(np.arange(1, 7, dtype=np.float32), "k")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"]), helper.make_node("Mul", ["c", "k"], ["y"])]
    path = _model(nodes, [1, 4, 5, 6], inits, tmp_path / "convmul.onnx")
    _converted_matches_or_refused(path, rng.standard_normal((1, 4, 5, 6)).astype(np.float32), tmp_path)


@pytest.mark.parametrize("case", ["slice_batch", "reshape_1_-1"])
def test_dynamic_batch_ops_on_the_batch(case, tmp_path, rng):
    """A symbolic batch converts as 1: a Slice [0:1] of axis 0 or a Reshape to [1, -1] passed as
    keeping the batch, where ONNX Runtime at batch 2 takes one image / merges the two."""
    i64 = lambda n, v: numpy_helper.from_array(np.array(v, np.int64), n)  # noqa: E731
    conv = helper.make_node("Conv", ["x", "w", "b"], ["c"])
    if case == "slice_batch":
        nodes, extra = [conv, helper.make_node("Slice", ["c", "st", "en", "ax"], ["y"])], [i64("st", [0]),
                                                                                            i64("en", [1]),
                                                                                            i64("ax", [0])]
    else:
        nodes = [conv, helper.make_node("Reshape", ["c", "s"], ["r"]), helper.make_node("Softmax", ["r"], ["y"])]
        extra = [i64("s", [1, -1])]
    path = _model(nodes, ["N", 4, 5, 6], _conv_inits(rng) + extra, tmp_path / "dyn.onnx")
    _converted_matches_or_refused(path, rng.standard_normal((2, 4, 5, 6)).astype(np.float32), tmp_path)


def test_dynamic_batch_keeps_the_batch_it_can_keep(tmp_path, rng):
    """What the symbolic-batch refusals must not refuse: a Reshape to [0, -1], and one whose
    target the exporters compute from the input's shape (x.view(x.shape[0], -1)), which folds
    to [1, -1] once the batch is set to 1. Both run at batch 2 as ONNX Runtime does."""
    i64 = lambda n, v: numpy_helper.from_array(np.array(v, np.int64), n)  # noqa: E731
    conv = helper.make_node("Conv", ["x", "w", "b"], ["c"])
    x = rng.standard_normal((2, 4, 5, 6)).astype(np.float32)
    literal = [conv, helper.make_node("Reshape", ["c", "s"], ["r"]), helper.make_node("Softmax", ["r"], ["y"], axis=-1)]
    computed = [conv, helper.make_node("Shape", ["c"], ["shape"]), helper.make_node("Gather", ["shape", "zero"], ["n"]),
                helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
                helper.make_node("Concat", ["n1", "minus_one"], ["target"], axis=0),
                helper.make_node("Reshape", ["c", "target"], ["r"]), helper.make_node("Softmax", ["r"], ["y"], axis=-1)]
    for name, nodes, extra in [("zero", literal, [i64("s", [0, -1])]),
                               ("computed", computed, [i64("zero", 0), i64("axes", [0]), i64("minus_one", [-1])])]:
        path = _model(nodes, ["N", 4, 5, 6], _conv_inits(rng) + extra, tmp_path / f"{name}.onnx")
        convert(str(path), str(tmp_path / f"{name}.atto"))
        got, ref = attocore.load(str(tmp_path / f"{name}.atto")).run(x), _ort(path, x)
        assert got.shape == ref.shape and np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max(), name


def test_dynamic_batch_slice_and_literal_reshape_are_refused_by_name(tmp_path, rng):
    i64 = lambda n, v: numpy_helper.from_array(np.array(v, np.int64), n)  # noqa: E731
    conv = helper.make_node("Conv", ["x", "w", "b"], ["c"])
    for nodes, extra, what in [([conv, helper.make_node("Slice", ["c", "st", "en", "ax"], ["y"])],
                                [i64("st", [0]), i64("en", [1]), i64("ax", [0])], "Slice [0:1] of the batch axis"),
                               ([conv, helper.make_node("Reshape", ["c", "s"], ["y"])], [i64("s", [1, -1])],
                                "Reshape to [1, -1] in a model whose batch is symbolic")]:
        path = _model(nodes, ["N", 4, 5, 6], _conv_inits(rng) + extra, tmp_path / "dyn.onnx")
        with pytest.raises(AttocoreError, match=what.replace("[", r"\[").replace("]", r"\]")):
            convert(str(path), str(tmp_path / "m.atto"))
        assert any(what in p for p in attocore.onnx.check(str(path)))


@pytest.mark.parametrize("batch", [1, "N"])
def test_opset_9_slice_takes_its_ranges_from_attributes(batch, tmp_path, rng):
    """Before opset 10 a Slice's starts, ends and axes are attributes: the structure check took
    its one input for a malformed node ('1 inputs (3..5 expected)'), so no opset 7-9 model
    with a Slice converted. A batch-axis Slice there is refused like the input form."""
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Slice", ["r"], ["y"], starts=[0, 1], ends=[2, 3], axes=[2, 3])]
    path = _model(nodes, [batch, 3, 4, 4], [], tmp_path / "slice9.onnx", opset=9)
    x = rng.standard_normal((1, 3, 4, 4)).astype(np.float32)
    convert(str(path), str(tmp_path / "m.atto"))
    assert np.abs(attocore.load(str(tmp_path / "m.atto")).run(x) - _ort(path, x)).max() == 0
    nodes[1] = helper.make_node("Slice", ["r"], ["y"], starts=[0], ends=[1], axes=[0])
    path = _model(nodes, ["N", 3, 4, 4], [], tmp_path / "slice9b.onnx", opset=9)
    assert any("of the batch axis" in p for p in attocore.onnx.check(str(path)))


def test_leaky_relu_of_a_rank_3_tensor_says_which_ranks_it_takes(tmp_path):
    nodes = [helper.make_node("LeakyRelu", ["x"], ["y"], alpha=0.1)]
    path = _model(nodes, [1, 6, 20], [], tmp_path / "lrelu.onnx")
    with pytest.raises(AttocoreError, match="2-D or 4-D"):
        convert(str(path), str(tmp_path / "m.atto"))


def test_quantize_cli_on_a_sequence_model(tmp_path, rng):
    """attocore quantize of a 3-D-input model: its report step fed (N, C, 1, L) to Model.run,
    which takes (N, C, L) for such a model, and failed after writing the file."""
    k = numpy_helper.from_array(rng.uniform(0.5, 2, (1, 1, 10)).astype(np.float32), "k")
    nodes = [helper.make_node("Softmax", ["x"], ["s"], axis=-1), helper.make_node("Mul", ["s", "k"], ["y"])]
    path = _model(nodes, [1, 6, 10], [k], tmp_path / "seq.onnx")
    convert(str(path), str(tmp_path / "seq.atto"))
    r = subprocess.run([sys.executable, "-m", "attocore", "quantize", str(tmp_path / "seq.atto"), "--calib-random", "4",
                        "-o", str(tmp_path / "seq8.atto")], capture_output=True, text=True,
                       cwd=str(tmp_path))  # not the source tree, whose attocore/ has no built extension
    assert r.returncode == 0, r.stderr


def test_an_onnx_tensor_named_like_the_importers_as_4d_cache(tmp_path, rng):
    """as_onnx_rank cached a pooled vector's 4-D reshape under the ONNX name '<name>.as_4d',
    and a model tensor of that name was read in its place."""
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"]), helper.make_node("GlobalAveragePool", ["c"], ["g"]),
             helper.make_node("MaxPool", ["c"], ["g.as_4d"], kernel_shape=[5, 6]),
             helper.make_node("Transpose", ["g"], ["t"], perm=[0, 1, 3, 2]),
             helper.make_node("Concat", ["t", "g.as_4d"], ["y"], axis=1)]
    path = _model(nodes, [1, 4, 5, 6], _conv_inits(rng), tmp_path / "as4d.onnx")
    _converted_matches_or_refused(path, rng.standard_normal((1, 4, 5, 6)).astype(np.float32), tmp_path)


def test_an_onnx_tensor_named_like_the_importers_negated_step(tmp_path, rng):
    """Sub of two rank-3 tensors registered its negation as '<out>.negated', overwriting a
    model tensor of that name."""
    nodes = [helper.make_node("Relu", ["x"], ["s.negated"]), helper.make_node("Sigmoid", ["x"], ["b"]),
             helper.make_node("Sub", ["x", "b"], ["s"]), helper.make_node("Add", ["s", "s.negated"], ["y"])]
    path = _model(nodes, [1, 6, 10], [], tmp_path / "neg.onnx")
    _converted_matches_or_refused(path, rng.standard_normal((1, 6, 10)).astype(np.float32), tmp_path)


def test_eltwise_const_along_h_is_not_materialised_per_image(tmp_path):
    """A (1024, 1) constant on a [1, 64, 1024, 16384] input: the native layer laid one whole
    image of the constant out at load (4 GiB from a 5 KB file), beyond max_arena_bytes."""
    import resource
    from attocore.graph import Graph, Metadata, Op, Tensor
    shape = (64, 1024, 16384)
    tensors = {"input": Tensor("input", (1,) + shape), "y": Tensor("y", (1,) + shape),
               "k": Tensor("k", (1024, 1), np.linspace(1, 2, 1024, dtype=np.float32).reshape(1024, 1))}
    md = Metadata(name="amp", input_shape=shape, mean=(0.0,) * 64, std=(1.0,) * 64, resize=0)
    g = Graph(md, tensors, [Op("eltwise_const", "e", ["input", "k"], ["y"], {"kind": (2,)})], ["input"], ["y"])
    path = tmp_path / "amp.atto"
    path.write_bytes(attocore.format.encode(g))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    import attocore.capi as capi
    try:
        capi.load(str(path), max_arena_bytes=1 << 20)
    except AttocoreError:
        return  # refused by name: fine
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < (1 << 20)  # KiB: under 1 GiB grown


def test_an_unreadable_constant_in_a_symbolic_batch_model_is_a_named_problem():
    """The symbolic-batch check reads the model's constants before the structure check does: an
    initializer whose bytes do not fit its shape raised numpy's ValueError from it."""
    bad = TensorProto(name="s", data_type=TensorProto.INT64, dims=[2], raw_data=b"\x01\x02")
    g = helper.make_graph([helper.make_node("Reshape", ["x", "s"], ["y"])], "t",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [bad])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    assert any("initializer 's'" in p for p in attocore.onnx.check(m))
    with pytest.raises(AttocoreError, match="initializer 's'"):
        convert(m)
