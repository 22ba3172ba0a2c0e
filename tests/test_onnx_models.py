"""The CNNs people export besides AttoNets, built here with random weights (no downloads):
MobileNet-V3 small and large (hard swish, hard sigmoid, squeeze-and-excitation),
EfficientNet-B0 (SiLU, sigmoid-gated squeeze-and-excitation), ShuffleNet-V2 x1.0 (channel
split, concat, channel shuffle), SqueezeNet 1.1 (concat, max pool ceil_mode), ResNet-18, a
YOLOv8n-shaped detector (split, concat, nearest upsampling, three head maps), a DB text
detector (nearest upsampling, ConvTranspose, sigmoid map at full resolution) and an FPN on an
AttoNet backbone (three maps). Each is exported with both PyTorch exporters, converted, and
every output matched against ONNX Runtime on the same file within 1e-4 of that output's
largest value, on the native executor and (TorchScript export) the numba oracle."""
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import attocore
from attocore.onnx import convert
from attocore.testing.detector_nets import DBNet, YOLOv8n
from attocore.testing.torch_nets import (AttoNetFPN, EfficientNetB0, MobileNetV3, ResNet18, ShuffleNetV2,
                                         SqueezeNet11, export_onnx, randomize)
from attocore.torch import attonet


@dataclass(frozen=True)
class Net:
    make: Callable
    shape: tuple  # (C, H, W) of one image
    outputs: tuple = ("logits",)  # graph output names, in order
    kinds: frozenset = frozenset()  # op types / activations the converted graph must have
    batch: int = 2
    exporters: tuple = ("torchscript", "dynamo")


MAPS = ("p3", "p4", "p5")
NETS = {
    "mobilenet-v3-small": Net(lambda: MobileNetV3("small"), (3, 224, 224), kinds={"mul", "hardswish", "hardsigmoid"}),
    "mobilenet-v3-large": Net(lambda: MobileNetV3("large"), (3, 224, 224), kinds={"mul", "hardswish", "hardsigmoid"}),
    "efficientnet-b0": Net(EfficientNetB0, (3, 224, 224), kinds={"mul", "silu", "sigmoid"}),
    "shufflenet-v2": Net(ShuffleNetV2, (3, 224, 224)),
    # 225: the first ceil_mode pool gets a 112x112 input, 56x56 out (55 with floor).
    "squeezenet-1.1": Net(SqueezeNet11, (3, 225, 225)),
    "resnet-18": Net(ResNet18, (3, 224, 224), batch=1),
    "yolov8n": Net(YOLOv8n, (3, 320, 320), MAPS, kinds={"silu"}, batch=1),
    # Non-square: the exporters' patterns are those at 320x320 (scales, not sizes), so one exporter.
    "yolov8n-256x320": Net(YOLOv8n, (3, 256, 320), MAPS, kinds={"silu"}, batch=1, exporters=("torchscript",)),
    # ultralytics' own export: decoded to (1, 84, anchors) by reshapes, a transpose, the DFL
    # softmax over a non-channel axis and constants broadcast along the anchors.
    "yolov8n-decoded": Net(lambda: YOLOv8n(decode=True), (3, 320, 320), ("detections",),
                           kinds={"silu", "reshape", "transpose", "eltwise_const", "softmax"}, batch=1),
    "dbnet": Net(DBNet, (3, 320, 320), ("probability",), kinds={"hardswish", "sigmoid"}, batch=1),
    "attonet-d-fpn": Net(lambda: AttoNetFPN("attonet-d"), (3, 256, 256), MAPS),
}


def export_dynamo(net, path, shape):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), (torch.zeros(1, *shape),), str(path), dynamo=True)


def as_list(result):
    """The outputs of a run as a list: one array, or a tuple / list of them in graph output order."""
    return [result] if isinstance(result, np.ndarray) else list(result)


@pytest.mark.parametrize("name, exporter", [(n, e) for n, net in NETS.items() for e in net.exporters])
def test_exported_net_matches_onnx_runtime(name, exporter, tmp_path, rng):
    if exporter == "dynamo":
        pytest.importorskip("onnxscript")
    spec = NETS[name]
    net = randomize(spec.make(), seed=len(name))
    path = tmp_path / f"{name}.onnx"
    if exporter == "torchscript":
        export_onnx(net, path, size=spec.shape[1:], output_names=spec.outputs)
    else:
        export_dynamo(net, path, spec.shape)
    graph = convert(str(path))
    kinds = {op.activation for op in graph.ops} | {op.type for op in graph.ops}
    assert spec.kinds <= kinds, kinds
    attocore.format.save(graph, tmp_path / "m.atto")
    x = rng.standard_normal((spec.batch,) + spec.shape).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert len(session.get_outputs()) == len(spec.outputs)
    per_image = [session.run(None, {session.get_inputs()[0].name: x[i:i + 1]}) for i in range(spec.batch)]
    refs = [np.concatenate(outs) for outs in zip(*per_image)]
    backends = ("native", "numba") if exporter == "torchscript" else ("native",)
    for backend in backends:
        got = as_list(attocore.load(str(tmp_path / "m.atto"), backend=backend, threads=2).run(x))
        assert len(got) == len(refs), (backend, len(got))
        for k, (g, ref) in enumerate(zip(got, refs)):
            assert g.shape == ref.shape, (backend, k, g.shape, ref.shape)
            assert np.abs(g - ref).max() <= 1e-4 * np.abs(ref).max(), (backend, k, np.abs(g - ref).max())


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


# Pure PyTorch: the definitions, and AttoNet cut as a backbone.

@pytest.mark.parametrize("make, params", [(ShuffleNetV2, 2_278_604), (SqueezeNet11, 1_235_496),
                                          (ResNet18, 11_689_512), (YOLOv8n, 3_157_184)])
def test_nets_have_the_published_parameter_counts(make, params):
    # torchvision's counts; ultralytics reports 3,157,200 for YOLOv8n, 16 of them the DFL's fixed conv.
    assert sum(p.numel() for p in make().parameters()) == params


@pytest.mark.parametrize("name, shape, out", [
    ("yolov8n", (256, 320), [(1, 144, 32, 40), (1, 144, 16, 20), (1, 144, 8, 10)]),
    ("dbnet", (320, 320), [(1, 1, 320, 320)]),
    ("attonet-d-fpn", (256, 256), [(1, 64, 32, 32), (1, 64, 16, 16), (1, 64, 8, 8)])])
def test_dense_nets_give_maps_of_the_input_size(name, shape, out):
    with torch.no_grad():
        got = NETS[name].make().eval()(torch.zeros(1, 3, *shape))
    assert [tuple(t.shape) for t in (got if isinstance(got, tuple) else (got,))] == out


def test_attonet_backbone_maps_are_the_classifier_intermediates():
    classifier = randomize(attonet("attonet-d"), seed=3)
    backbone = attonet("attonet-d", features=True)
    backbone.load_state_dict(classifier.state_dict())  # strict: a trained classifier can be cut
    backbone.eval()
    assert set(classifier.state_dict()) - set(backbone.state_dict()) == {"fc.weight", "fc.bias"}
    # The last module at strides 8, 16 and 32 (modules 4, 8 and 14 have stride 2).
    assert backbone.feature_blocks == (6, 12, 15) and backbone.feature_channels == (264, 467, 140)
    seen = {}
    for i in backbone.feature_blocks:
        classifier.blocks[i].register_forward_hook(lambda m, inp, out, i=i: seen.__setitem__(i, out))
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        classifier(x)
        maps = backbone(x)
    assert [tuple(m.shape) for m in maps] == [(2, 264, 28, 28), (2, 467, 14, 14), (2, 140, 7, 7)]
    for i, m in zip(backbone.feature_blocks, maps):
        assert torch.equal(seen[i], m)
    # Inside a model too (the FPN's backbone is a submodule).
    fpn = AttoNetFPN("attonet-d")
    fpn.backbone.load_state_dict(classifier.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(fpn.backbone.state_dict().values(), backbone.state_dict().values()))


def test_attonet_backbone_exports_its_three_maps(tmp_path):
    backbone = attonet("attonet-d", features=True).eval()
    attocore.torch.export(backbone, tmp_path / "b.atto")  # a graph output per map (docs/FORMAT.md)
    m = attocore.load(tmp_path / "b.atto")
    assert m.output_names == ("m7.out", "m13.out", "m16.out") and not m.labels
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    with torch.no_grad():
        want = backbone(torch.from_numpy(x))
    for got, ref in zip(m.run(x), want):
        assert np.abs(got - ref.numpy()).max() <= 1e-4 * float(ref.abs().max())
