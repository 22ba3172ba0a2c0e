"""ONNX import: AttoNets A-D, MobileNet-V2 and a small ResNet exported by torch.onnx.export,
converted and run natively, against ONNX Runtime on the same file; every unsupported
operator and attribute refused with the operator, node and attribute named."""
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper

import attocore
from attocore.onnx import check, convert
from conftest import NETS, ort_run, randomize_batch_norm
from attocore.testing.torch_nets import MobileNetV2, SelfResidual, SmallResNet, export_onnx, randomize


def assert_matches_ort(onnx_path, atto_path, rng, batch=2):
    x = rng.standard_normal((batch, 3, 224, 224)).astype(np.float32)
    ref = ort_run(onnx_path, x)
    got = attocore.load(str(atto_path)).run(x)
    err = np.abs(got - ref).max()
    assert err <= 1e-4 * np.abs(ref).max() + 1e-6, f"max error {err:.3g} (max |logit| {np.abs(ref).max():.3g})"
    return err


@pytest.mark.parametrize("name", NETS)
def test_attonet_onnx_matches_onnxruntime(tmp_path, name, rng):
    from attocore.torch import attonet
    torch.manual_seed(3)
    net = randomize_batch_norm(attonet(name), 4)
    export_onnx(net, tmp_path / "m.onnx")
    g = convert(tmp_path / "m.onnx", tmp_path / "m.atto")
    # Batch norm folded, ReLUs fused: exactly the ops of the zoo graph.
    assert [o.type for o in g.ops] == [o.type for o in attocore.zoo.seeded_graph(name).ops]
    assert_matches_ort(tmp_path / "m.onnx", tmp_path / "m.atto", rng)


@pytest.mark.parametrize("make", [MobileNetV2, SmallResNet, SelfResidual])
def test_small_cnns_match_onnxruntime(tmp_path, make, rng):
    net = randomize(make(), seed=5)
    export_onnx(net, tmp_path / "m.onnx")
    convert(tmp_path / "m.onnx", tmp_path / "m.atto")
    assert_matches_ort(tmp_path / "m.onnx", tmp_path / "m.atto", rng)
    kernels = {k for _, k in attocore.load(str(tmp_path / "m.atto")).executor.kernels()}
    assert not any(k.startswith("conv2d_ref") for k in kernels), "a convolution fell back to the reference"
    if make is SmallResNet:  # each block's residual add (and ReLU) rides on its second 3x3's GEMM
        assert any(k.startswith(("igemm+res:", "im2col+res:")) for k in kernels), sorted(kernels)
        assert "add_ref" not in kernels, sorted(kernels)
    if make is MobileNetV2:
        # Its first expanded tensor (112x112x96, 4.8 MB) never exists: expansion, depthwise and
        # projection run as one step; 1, 2 and 3 threads (ranges cut mid-image) agree bit for bit.
        assert any(k.startswith("mbconv:") for k in kernels), sorted(kernels)
        x = rng.standard_normal((2, 3, 224, 224)).astype(np.float32)
        one = attocore.load(str(tmp_path / "m.atto"), threads=1).run(x)
        for t in (2, 3):
            assert np.array_equal(attocore.load(str(tmp_path / "m.atto"), threads=t).run(x), one)


@pytest.mark.parametrize("opset", [11, 13, 21])
def test_opsets(tmp_path, opset, rng):
    net = randomize(SmallResNet(), seed=2)
    export_onnx(net, tmp_path / "m.onnx", opset=opset)
    convert(tmp_path / "m.onnx", tmp_path / "m.atto")
    assert_matches_ort(tmp_path / "m.onnx", tmp_path / "m.atto", rng, batch=1)


def make_model(nodes, inits, opset=17, in_shape=(1, 3, 8, 8), out_shape=None):
    graph = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
                              [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, out_shape)],
                              initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def w(name, shape):
    return helper.make_tensor(name, TensorProto.FLOAT, shape, np.ones(int(np.prod(shape)), np.float32).tolist())


BAD = {
    "unknown operator": ([helper.make_node("Neg", ["x"], ["y"], name="neg1")], [], "operator Neg"),
    "ceil mode": ([helper.make_node("AveragePool", ["x"], ["y"], name="p1", kernel_shape=[2, 2], ceil_mode=1,
                                    count_include_pad=1)], [], "ceil_mode"),
    "transposed A": ([helper.make_node("Flatten", ["x"], ["f"], name="f0"),
                      helper.make_node("Gemm", ["f", "W"], ["y"], name="g1", transA=1)], [w("W", [192, 4])], "transA"),
    "computed clip bounds": ([helper.make_node("ReduceMax", ["x"], ["hi"], name="max1", keepdims=0),
                              helper.make_node("Clip", ["x", "", "hi"], ["y"], name="clip1")], [],
                             "Clip to computed bounds"),
    "runtime weights": ([helper.make_node("Conv", ["x", "x"], ["y"], name="c2", kernel_shape=[1, 1])], [],
                        "input 'W' must be a constant"),
    "custom domain": ([helper.make_node("Foo", ["x"], ["y"], name="foo", domain="com.example")], [], "domain"),
    "broadcast add": ([helper.make_node("GlobalAveragePool", ["x"], ["g"], name="gap"),
                       helper.make_node("Add", ["x", "g"], ["y"], name="add1")], [], "broadcasting Add"),
    "flatten from axis 2": ([helper.make_node("Flatten", ["x"], ["y"], name="flat1", axis=2)], [], "axis=2"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_unsupported_input_names_operator_node_attribute(case):
    nodes, inits, expected = BAD[case]
    model = make_model(nodes, inits)
    with pytest.raises(attocore.UnsupportedOpError) as info:
        convert(model)
    msg = str(info.value)
    assert expected in msg
    assert any(n.name in msg for n in nodes), msg


def test_check_lists_every_problem_at_once():
    nodes = [helper.make_node("Neg", ["x"], ["a"], name="s1"),
             helper.make_node("Div", ["a", "a"], ["b"], name="c1"),
             helper.make_node("AveragePool", ["b"], ["y"], name="p1", kernel_shape=[2, 2], ceil_mode=1,
                              count_include_pad=1)]
    problems = check(make_model(nodes, [], opset=9))  # opset 9 is converted, not a problem
    text = "\n".join(problems)
    assert len(problems) == 3, problems
    for needle in ("'s1' (Neg)", "'c1' (Div): Div by a computed tensor", "'p1' (AveragePool): attribute ceil_mode"):
        assert needle in text


def test_convert_cli(tmp_path):
    net = randomize(SmallResNet(), seed=1)
    export_onnx(net, tmp_path / "r.onnx")
    run = lambda *a: subprocess.run([sys.executable, "-m", "attocore", "convert", *a], capture_output=True, text=True,
                                    cwd=tmp_path)
    ok = run("r.onnx", "--check")
    assert ok.returncode == 0 and "convertible" in ok.stdout
    assert run("r.onnx", "r.atto").returncode == 0 and (tmp_path / "r.atto").exists()
    onnx.save(make_model(*BAD["unknown operator"][:2]), tmp_path / "bad.onnx")
    bad = run("bad.onnx", "--check")
    assert bad.returncode == 1 and "operator Neg" in bad.stdout
    bad = run("bad.onnx", "x.atto")
    assert bad.returncode == 1 and "Neg" in bad.stderr and not (tmp_path / "x.atto").exists()


def short_raw_weight():
    t = TensorProto()
    t.name, t.data_type = "W", TensorProto.FLOAT
    t.dims.extend([4, 3, 3, 3])
    t.raw_data = b"\0" * 10  # 10 bytes for 108 floats
    return t


def gap_then(*nodes):
    return [helper.make_node("GlobalAveragePool", ["x"], ["g"], name="gap"), *nodes]


# Malformed models (issue #20 item 9): each raised a raw IndexError, KeyError, ValueError or
# struct.error, or converted although ONNX Runtime refuses the model, and --check called most
# of them convertible. (nodes, initializers, text the problem must contain)
MALFORMED = {
    "short pads": ([helper.make_node("Conv", ["x", "W"], ["y"], name="c", kernel_shape=[3, 3], pads=[1, 1])],
                   [w("W", [4, 3, 3, 3])], "pads=[1, 1]"),
    "short strides": ([helper.make_node("Conv", ["x", "W"], ["y"], name="c", kernel_shape=[3, 3], strides=[1])],
                      [w("W", [4, 3, 3, 3])], "strides=[1]"),
    "negative pads": ([helper.make_node("Conv", ["x", "W"], ["y"], name="c", kernel_shape=[1, 1], pads=[-1, 0, 0, 0])],
                      [w("W", [4, 3, 1, 1])], "pads="),
    "conv without weight": ([helper.make_node("Conv", ["x"], ["y"], name="c", kernel_shape=[3, 3])], [], "1 inputs"),
    "gemm without weight": (gap_then(helper.make_node("Flatten", ["g"], ["f"], name="fl"),
                                     helper.make_node("Gemm", ["f"], ["y"], name="gm")), [], "1 inputs"),
    "batch norm without statistics": ([helper.make_node("Conv", ["x", "W"], ["c"], name="c", kernel_shape=[1, 1]),
                                       helper.make_node("BatchNormalization", ["c", "s"], ["y"], name="bn")],
                                      [w("W", [4, 3, 1, 1]), w("s", [4])], "2 inputs"),
    "pool without kernel": ([helper.make_node("MaxPool", ["x"], ["y"], name="p")], [], "kernel_shape is missing"),
    "short raw data": ([helper.make_node("Conv", ["x", "W"], ["y"], name="c", kernel_shape=[3, 3])],
                       [short_raw_weight()], "initializer 'W'"),
    "integer weights": ([helper.make_node("Conv", ["x", "W"], ["y"], name="c", kernel_shape=[1, 1])],
                        [helper.make_tensor("W", TensorProto.INT64, [4, 3, 1, 1], [1] * 12)], "INT64"),
    "2-D conv weight": ([helper.make_node("Conv", ["x", "W"], ["y"], name="c")], [w("W", [4, 3])], "4-D weights"),
    "reshape to 2^40 x 2^40": (gap_then(helper.make_node("Reshape", ["g", "s"], ["y"], name="r")),
                               [helper.make_tensor("s", TensorProto.INT64, [2], [2**40, 2**40])], "Reshape to"),
    "reshape to [C, 1]": (gap_then(helper.make_node("Reshape", ["g", "s"], ["y"], name="r")),
                          [helper.make_tensor("s", TensorProto.INT64, [2], [3, 1])], "Reshape to [3, 1]"),
    "duplicate node outputs": ([helper.make_node("Relu", ["x"], ["y"], name="a"),
                                helper.make_node("Relu", ["x"], ["y"], name="b")], [], "already defined"),
    "identity feeding itself": ([helper.make_node("Identity", ["y"], ["y"], name="i")], [], "not computed before"),
    "undefined input": ([helper.make_node("Relu", ["nope"], ["y"], name="a")], [], "'nope' is not computed"),
    "zero groups": ([helper.make_node("Conv", ["x", "W"], ["y"], name="c", kernel_shape=[1, 1], group=0)],
                    [w("W", [4, 3, 1, 1])], "group=0"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_onnx_is_refused_with_a_typed_error(case):
    nodes, inits, expected = MALFORMED[case]
    model = make_model(nodes, inits)
    problems = check(model)
    assert problems and any(expected in p for p in problems), problems
    with pytest.raises(attocore.AttocoreError, match=expected.replace("[", r"\[").replace("^", r"\^")):
        convert(model)
    with pytest.raises(attocore.AttocoreError):
        convert(model.SerializeToString())  # bytes: the same verdict
    # ONNX Runtime notices zero groups only when it runs; [C, 1] is valid ONNX we cannot run.
    if case not in ("zero groups", "reshape to [C, 1]"):
        with pytest.raises(Exception):
            ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_reshape_targets_that_resolve_to_n_c_are_accepted(rng):
    for target in ([1, 3], [-1, 3], [1, -1], [0, 3], [0, -1]):
        nodes = gap_then(helper.make_node("Reshape", ["g", "s"], ["y"], name="r"))
        g = convert(make_model(nodes, [helper.make_tensor("s", TensorProto.INT64, [2], target)]))
        assert g.tensors[g.outputs[0]].shape == (1, 3), target


def test_not_an_onnx_file(tmp_path):
    with pytest.raises(attocore.FormatError, match="not a valid ONNX model"):
        convert(b"\x08\x07 this is not protobuf \xff\xff")
    p = tmp_path / "junk.onnx"
    p.write_bytes(b"\xff" * 64)
    with pytest.raises(attocore.FormatError):
        check(str(p))
    proc = subprocess.run([sys.executable, "-m", "attocore", "convert", str(p), "--check"], capture_output=True,
                          text=True, cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "not a valid ONNX model" in proc.stderr


def test_convert_takes_the_model_as_bytes(tmp_path, rng):
    """convert(bytes) read the bytes as a file name."""
    net = randomize(SmallResNet(), seed=3)
    export_onnx(net, tmp_path / "m.onnx")
    g = convert((tmp_path / "m.onnx").read_bytes())
    assert [o.type for o in g.ops] == [o.type for o in convert(tmp_path / "m.onnx").ops]


def test_check_never_calls_a_model_convertible_that_does_not_convert():
    """A 4-D output used to fail in convert() with a labels error that check() never ran into."""
    model = make_model([helper.make_node("Relu", ["x"], ["y"], name="a")], [])
    assert check(model) == []
    g = convert(model)
    assert g.metadata.labels == ()  # a feature map has no classes to name
