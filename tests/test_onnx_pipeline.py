"""The ONNX import pipeline (attocore/importers/onnx_prepare.py): symbolic input dimensions
fixed, opsets 7-25 converted, shape subgraphs folded by onnxslim, ONNX's strict shape
inference; models from both PyTorch exporters; inputs of any channel count and size. Every
converted model is matched against ONNX Runtime on the same file."""
import subprocess
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

import attocore
from attocore.onnx import check, convert
from attocore.testing.torch_nets import SmallResNet, randomize


def ort_run(model, x):
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def assert_matches_ort(model, graph, x, tmp_path):
    path = tmp_path / "m.atto"
    attocore.format.save(graph, path)
    got = attocore.load(str(path), threads=1).run(x)
    ref = ort_run(model, x)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max() + 1e-6


def small_cnn(opset, channels=3, hw=(16, 16)):
    """Conv + Relu + MaxPool + GlobalAveragePool + Flatten + Gemm, written by hand at `opset`."""
    rng = np.random.default_rng(opset)
    init = [numpy_helper.from_array(rng.standard_normal((8, channels, 3, 3)).astype(np.float32), "W"),
            numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "B"),
            numpy_helper.from_array(rng.standard_normal((5, 8)).astype(np.float32), "F"),
            numpy_helper.from_array(rng.standard_normal(5).astype(np.float32), "FB")]
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("GlobalAveragePool", ["p"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "F", "FB"], ["y"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                             [1, channels, *hw])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], initializer=init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset <= 17 else 10  # what ONNX Runtime reads for that opset
    return model


@pytest.mark.parametrize("opset", [7, 9, 10, 11, 17, 21, 22, 23, 25])
def test_opsets_7_to_25_import(opset, tmp_path):
    model = small_cnn(opset)
    x = np.random.default_rng(1).standard_normal((1, 3, 16, 16)).astype(np.float32)
    assert check(model) == []
    assert_matches_ort(model, convert(model), x, tmp_path)


@pytest.mark.parametrize("opset", [6, 26])
def test_opsets_outside_7_to_25_are_refused_by_number(opset):
    with pytest.raises(attocore.UnsupportedOpError, match=f"opset {opset} is not supported"):
        convert(small_cnn(opset))


@pytest.mark.parametrize("channels, hw", [(1, (28, 28)), (5, (12, 20)), (3, (48, 192)), (3, (31, 17))])
def test_any_channel_count_and_input_size(channels, hw, tmp_path):
    model = small_cnn(17, channels, hw)
    graph = convert(model)
    assert graph.metadata.input_shape == (channels, *hw)
    if channels != 3:  # no RGB normalisation for a model that is not an RGB image model
        assert graph.metadata.mean == (0.0,) * channels and graph.metadata.std == (1.0,) * channels
    x = np.random.default_rng(2).standard_normal((1, channels, *hw)).astype(np.float32)
    assert_matches_ort(model, graph, x, tmp_path)


def mlp(features=6):
    """[N, features] -> Gemm -> Relu -> Gemm: an MLP-style graph with a 2-D input."""
    rng = np.random.default_rng(features)
    init = [numpy_helper.from_array(rng.standard_normal((features, 16)).astype(np.float32), "W1"),
            numpy_helper.from_array(rng.standard_normal(16).astype(np.float32), "B1"),
            numpy_helper.from_array(rng.standard_normal((16, 4)).astype(np.float32), "W2")]
    nodes = [helper.make_node("Gemm", ["x", "W1", "B1"], ["h"], name="fc1"),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("MatMul", ["r", "W2"], ["y"], name="fc2")]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", features])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])], initializer=init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_mlp_with_a_2d_input(tmp_path):
    model = mlp(3)  # 3 features: still no image normalisation
    graph = convert(model)
    assert graph.metadata.mean == (0.0,) * 3 and graph.metadata.std == (1.0,) * 3 and graph.metadata.resize == 0
    path = tmp_path / "mlp.atto"
    attocore.format.save(graph, path)
    m = attocore.load(str(path))
    assert m.takes_features
    x = np.random.default_rng(7).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(m.run(x), ort_run(model, x), rtol=1e-5, atol=1e-5)
    with pytest.raises(attocore.InputError, match=r"\(N, 3\)"):
        m.run(x.reshape(5, 3, 1, 1))
    with pytest.raises(attocore.InputError, match="not images"):
        attocore.run(m, np.zeros((8, 8, 3), np.uint8))
    assert len(attocore.run(m, x)) == 5  # one Result per vector
    bench = subprocess.run([sys.executable, "-m", "attocore", "bench", str(path), "--runs", "3", "--warmup", "1",
                            "--profile"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert bench.returncode == 0 and "sum of layers" in bench.stdout, bench.stderr


def test_normalisation_of_another_channel_count_is_checked():
    model = small_cnn(17, 1, (28, 28))
    g = convert(model, mean=[0.5], std=[0.25])
    assert g.metadata.mean == (0.5,) and g.metadata.std == (0.25,)
    for bad in ({"mean": [0.5, 0.5, 0.5]}, {"std": [0.0]}, {"mean": [float("nan")]}):
        with pytest.raises(ValueError) as info:
            convert(model, **bad)
        assert not isinstance(info.value, attocore.AttocoreError), info.value  # the argument's fault, not the model's


def test_a_broadcast_attocore_does_not_convert_is_refused_not_run():
    """[N, C, 1, 1] * [N, C] broadcasts to [N, C, 1, C] in ONNX; the elementwise (N, C) product
    would be a silent wrong answer."""
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["q"], name="flat"),
             helper.make_node("Mul", ["p", "q"], ["y"], name="mul")]
    model = helper.make_model(helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 2, 2])],
                                                [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]),
                              opset_imports=[helper.make_opsetid("", 17)])
    assert check(model)
    with pytest.raises(attocore.UnsupportedOpError, match="'mul' \\(Mul\\): Mul of shapes"):
        convert(model)


def test_folding_cannot_be_made_to_allocate_gigabytes():
    """A 300-byte file asking constant folding for a 16000 x 16000 tensor is refused before any
    of it is computed."""
    shape = numpy_helper.from_array(np.array([16000, 16000], np.int64), "shape")
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["big"], value=numpy_helper.from_array(np.ones(1, np.float32))),
             helper.make_node("ReduceSum", ["big"], ["s"], keepdims=0),
             helper.make_node("Mul", ["x", "s"], ["y"])]
    model = helper.make_model(helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                                                [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [shape]),
                              opset_imports=[helper.make_opsetid("", 13)])
    from attocore.testing.memory import peak_rss_bytes
    before = peak_rss_bytes()
    problems = check(model)
    assert any("'big' would hold 256000000 elements" in p for p in problems), problems
    assert peak_rss_bytes() - before < 200 * 2**20


@pytest.mark.parametrize("text", ["1x3x224x224x", "1_0x3x4x4", "1x3x-4x4", "x", "", "1x3x4.5x4", "1x" * 9 + "1"])
def test_input_shape_strings_are_strict(text):
    from attocore.importers.onnx_prepare import parse_input_shape
    with pytest.raises(ValueError, match="input shape"):
        parse_input_shape(text)


@pytest.mark.parametrize("value", [[1, 3, 4.7, 4], (1, 3, True, 4), b"1x3x4x4", None, 7])
def test_input_shape_values_are_strict(value):
    from attocore.importers.onnx_prepare import parse_input_shape
    with pytest.raises(ValueError, match="input shape"):
        parse_input_shape(value)
    assert parse_input_shape(" 1, 3 ,224, 224") == parse_input_shape([1, 3, 224, 224]) == (1, 3, 224, 224)


class ViewFlatten(nn.Module):
    """`x.view(x.size(0), -1)` with a dynamic batch: the exporter computes the shape at run
    time (Shape, Gather, Unsqueeze, Concat), which folds once the input shape is fixed."""
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        x = torch.relu(self.conv(x)).mean((2, 3), keepdim=True)
        return self.fc(x.view(x.size(0), -1))


def torchscript_export(net, path, hw, dynamic):
    axes = {"x": {0: "batch", 2: "height", 3: "width"}} if dynamic else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net.eval(), torch.randn(1, 3, *hw), str(path), input_names=["x"], dynamic_axes=axes,
                          dynamo=False)
    return onnx.load(str(path))


def test_shape_subgraphs_fold_once_the_input_shape_is_fixed(tmp_path):
    torch.manual_seed(0)
    model = torchscript_export(ViewFlatten(), tmp_path / "v.onnx", (32, 32), dynamic=True)
    ops = {n.op_type for n in model.graph.node}
    assert {"Shape", "Gather"} & ops, ops  # the exporter did emit a shape computation
    problems = check(model)
    assert len(problems) == 1 and "--input-shape" in problems[0] and "height" in problems[0], problems
    for shape in ("1x3x32x32", (1, 3, 40, 24)):
        graph = convert(model, input_shape=shape)
        dims = tuple(int(v) for v in shape.split("x")) if isinstance(shape, str) else shape
        x = np.random.default_rng(3).standard_normal(dims).astype(np.float32)
        assert_matches_ort(model, graph, x, tmp_path)


def test_input_shape_that_disagrees_is_refused(tmp_path):
    model = torchscript_export(ViewFlatten(), tmp_path / "v.onnx", (32, 32), dynamic=True)
    with pytest.raises(attocore.GraphError, match="dimension 1 is fixed at 3"):
        convert(model, input_shape="1x4x32x32")
    with pytest.raises(attocore.GraphError, match="3 dimensions"):
        convert(model, input_shape="3x32x32")
    with pytest.raises(ValueError, match="such as 1x3x224x224"):
        convert(model, input_shape="1x3xbig")


def test_both_pytorch_exporters(tmp_path):
    pytest.importorskip("onnxscript")
    net = randomize(SmallResNet(), seed=4)
    legacy = torchscript_export(net, tmp_path / "legacy.onnx", (64, 64), dynamic=True)
    dims = {0: torch.export.Dim("batch"), 2: torch.export.Dim("h", min=32, max=256),
            3: torch.export.Dim("w", min=32, max=256)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), (torch.randn(1, 3, 64, 64),), str(tmp_path / "dynamo.onnx"),
                          dynamic_shapes=({k: v for k, v in dims.items()},), dynamo=True)
    dynamo = onnx.load(str(tmp_path / "dynamo.onnx"))
    x = np.random.default_rng(5).standard_normal((1, 3, 64, 96)).astype(np.float32)
    for model in (legacy, dynamo):
        assert_matches_ort(model, convert(model, input_shape="1x3x64x96"), x, tmp_path)


def test_cli_input_shape(tmp_path):
    model = torchscript_export(ViewFlatten(), tmp_path / "v.onnx", (32, 32), dynamic=True)
    onnx.save(model, str(tmp_path / "v.onnx"))
    run = lambda *a: subprocess.run([sys.executable, "-m", "attocore", "convert", *a], capture_output=True,
                                    text=True, cwd=tmp_path, timeout=300)
    refused = run("v.onnx", "v.atto")
    assert refused.returncode == 1 and "--input-shape" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "v.atto").exists()
    ok = run("v.onnx", "v.atto", "--input-shape", "1x3x48x64")
    assert ok.returncode == 0, ok.stderr
    assert "input (3, 48, 64)" in ok.stdout
    bad = run("v.onnx", "v.atto", "--input-shape", "1x3x0x64")
    assert bad.returncode == 2 and "--input-shape" in bad.stderr and "Traceback" not in bad.stderr
