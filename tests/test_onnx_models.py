"""The CNNs people export besides AttoNets, built here with random weights (no downloads):
MobileNet-V3 small and large (hard swish, hard sigmoid, squeeze-and-excitation) and
EfficientNet-B0 (SiLU, sigmoid-gated squeeze-and-excitation), each exported with both PyTorch
exporters, converted, and matched against ONNX Runtime on the same file within 1e-4 of the
largest output, on the native executor and the numba oracle."""
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import attocore
from attocore.onnx import convert
from attocore.testing.torch_nets import EfficientNetB0, MobileNetV3, export_onnx, randomize

NETS = {"mobilenet-v3-small": lambda: MobileNetV3("small"), "mobilenet-v3-large": lambda: MobileNetV3("large"),
        "efficientnet-b0": EfficientNetB0}


def export_dynamo(net, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), (torch.zeros(1, 3, 224, 224),), str(path), dynamo=True)


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
@pytest.mark.parametrize("name", list(NETS))
def test_exported_net_matches_onnx_runtime(name, exporter, tmp_path, rng):
    if exporter == "dynamo":
        pytest.importorskip("onnxscript")
    net = randomize(NETS[name](), seed=len(name))
    path = tmp_path / f"{name}.onnx"
    (export_onnx if exporter == "torchscript" else export_dynamo)(net, path)
    graph = convert(str(path))
    kinds = {op.activation for op in graph.ops} | {op.type for op in graph.ops}
    assert "mul" in kinds and ({"hardswish", "hardsigmoid"} <= kinds or {"silu", "sigmoid"} <= kinds), kinds
    attocore.format.save(graph, tmp_path / "m.atto")
    x = rng.standard_normal((2, 3, 224, 224)).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ref = np.concatenate([session.run(None, {session.get_inputs()[0].name: x[i:i + 1]})[0] for i in range(2)])
    backends = ("native", "numba") if exporter == "torchscript" else ("native",)
    for backend in backends:
        got = attocore.load(str(tmp_path / "m.atto"), backend=backend, threads=2).run(x)
        assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max(), (backend, np.abs(got - ref).max())


def test_silu_is_one_activation_not_a_sigmoid_and_a_mul(tmp_path):
    net = randomize(EfficientNetB0(), seed=1)
    export_onnx(net, tmp_path / "e.onnx")
    onnx_ops = [n.op_type for n in onnx.load(str(tmp_path / "e.onnx")).graph.node]
    graph = convert(str(tmp_path / "e.onnx"))
    silu = sum(op.activation == "silu" for op in graph.ops)
    gates = sum(op.activation == "sigmoid" for op in graph.ops)
    # Every x * sigmoid(x) became one SiLU; the squeeze-and-excitation gates stay sigmoids.
    assert silu + gates == onnx_ops.count("Sigmoid") and gates == 16 and silu > 0
    assert sum(op.type == "mul" for op in graph.ops) == gates
