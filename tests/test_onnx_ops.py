"""Each ONNX operator of the exported CNNs (onnx_ops.py), in a small PyTorch module exported by
both exporters, converted, run natively and on the numba oracle, and matched against ONNX
Runtime on the same file within 1e-4 of the largest output."""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
nn = torch.nn
F = torch.nn.functional

import attocore  # noqa: E402
from attocore.errors import UnsupportedOpError  # noqa: E402
from attocore.onnx import check, convert  # noqa: E402
from conftest import ort_run  # noqa: E402


class ConcatSplit(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(4, 12, 3, padding=1), nn.Conv2d(4, 6, 1)

    def forward(self, x):
        y = torch.cat([self.a(x), self.b(x)], dim=1)
        left, right = y.chunk(2, dim=1)
        p, q, r = torch.split(y, [5, 7, 6], dim=1)
        return torch.cat([right.relu(), left, q, p[:, 1:3], r], dim=1)


class Shuffle(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 12, 1)

    def forward(self, x):
        y = self.conv(x)
        n, c, h, w = y.shape
        return y.view(n, 3, c // 3, h, w).transpose(1, 2).contiguous().view(n, c, h, w)


class Upsample(nn.Module):
    def __init__(self, mode, factor):
        super().__init__()
        self.conv, self.mode, self.factor = nn.Conv2d(4, 8, 3, padding=1), mode, factor

    def forward(self, x):
        y = self.conv(x)
        kw = {} if self.mode == "nearest" else {"align_corners": False}
        return F.interpolate(y, scale_factor=self.factor, mode=self.mode, **kw) + \
            F.interpolate(y, size=(y.shape[2] * self.factor, y.shape[3] * self.factor), mode=self.mode, **kw)


class Deconv(nn.Module):
    def __init__(self, k, s, p, op, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.up = nn.ConvTranspose2d(8, 6, k, stride=s, padding=p, output_padding=op, groups=groups)
        self.bn = nn.BatchNorm2d(6)

    def forward(self, x):
        return torch.relu(self.bn(self.up(self.conv(x))))


class Activations(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.prelu = nn.PReLU(8)

    def forward(self, x):
        y = self.conv(x)
        return torch.cat([F.leaky_relu(y, 0.2), self.prelu(y), torch.tanh(y), y.clamp(-0.5, 0.25),
                          y.clamp(min=-0.1), F.softmax(y, dim=1)], dim=1)


class Arithmetic(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.register_buffer("c", torch.linspace(0.5, 2.0, 8).reshape(1, 8, 1, 1))

    def forward(self, x):
        y = self.conv(x)
        z = (y * self.c + 0.5) / 3.0 - self.c
        return torch.cat([z, 1.0 - y, y - z, y.mean(dim=1, keepdim=True), y.mean(dim=2, keepdim=True).expand_as(y)],
                         dim=1)


class PoolsAndPads(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, dilation=2, padding=2)
        self.dw = nn.Conv2d(8, 8, 3, dilation=3, padding=3, groups=8)

    def forward(self, x):
        y = F.max_pool2d(self.dw(self.conv(x)), 3, 2, ceil_mode=True)
        return F.pad(y, (1, 2, 0, 3)) + 0.0


class HeadLayouts(nn.Module):
    """A detection head's layout work on rank-3 tensors: Flatten of H and W, Sub / Mul / Div by
    constants broadcast along the anchors, Transpose there and back around a Softmax over the
    last axis, Concat and Slice along the anchors, a Reshape to another channel count, a
    Transpose of that and a ReduceMean without keepdims."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        anchors = SHAPE[1] * SHAPE[2]
        self.register_buffer("grid", torch.linspace(-1, 1, anchors).reshape(1, 1, anchors))
        self.register_buffer("scale", torch.linspace(0.5, 2, 8 * anchors).reshape(8, anchors))

    def forward(self, x):
        a = self.conv(x).flatten(2)
        b = (self.grid - a) * self.scale / 2.0
        c = a.transpose(1, 2).softmax(-1).transpose(1, 2)
        d = torch.cat([a.softmax(2), b - c, c, a[:, :, 3:100]], dim=2)
        e = d.reshape(1, 4, 2, -1).permute(0, 3, 1, 2)
        return torch.cat([e.mean(dim=3), e.mean(dim=(1, 3), keepdim=True).squeeze(3)], dim=1)


class FlattenLinear(nn.Module):
    """A VGG-style classifier: the feature map itself flattened into a Linear layer."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 3, stride=2, padding=1)
        self.fc = nn.Linear(6 * 6 * 7, 10)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.conv(x)), 1)).softmax(-1)


class SoftmaxAxes(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 5, 1)

    def forward(self, x):
        y = self.conv(x)
        return torch.cat([y.softmax(2), y.softmax(3)], dim=1)


NETS = {
    "head-layouts": HeadLayouts, "flatten-linear": FlattenLinear, "softmax-axes": SoftmaxAxes,
    "concat-split": ConcatSplit, "shuffle": Shuffle,
    "nearest-2x": lambda: Upsample("nearest", 2), "nearest-3x": lambda: Upsample("nearest", 3),
    "bilinear-2x": lambda: Upsample("bilinear", 2),
    "deconv-2x2s2": lambda: Deconv(2, 2, 0, 0), "deconv-3x3s2": lambda: Deconv(3, 2, 1, 1),
    "deconv-4x4s2-grouped": lambda: Deconv(4, 2, 1, 0, groups=2),
    "activations": Activations, "arithmetic": Arithmetic, "pools-pads": PoolsAndPads,
}
SHAPE = (4, 11, 14)


def export(net, path, exporter):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), (torch.zeros(1, *SHAPE),), str(path), dynamo=exporter == "dynamo",
                          **({} if exporter == "dynamo" else {"opset_version": 17}))


def randomize(net, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return net


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
@pytest.mark.parametrize("name", list(NETS))
def test_operator_matches_onnx_runtime(name, exporter, tmp_path, rng):
    if exporter == "dynamo":
        pytest.importorskip("onnxscript")
    net = randomize(NETS[name](), seed=len(name))
    path = tmp_path / f"{name}.onnx"
    export(net, path, exporter)
    assert check(str(path)) == []
    graph = convert(str(path))
    attocore.format.save(graph, tmp_path / "m.atto")
    x = rng.standard_normal((2,) + SHAPE).astype(np.float32)
    ref = ort_run(path, x)
    for backend in ("native", "numba"):
        got = attocore.load(str(tmp_path / "m.atto"), backend=backend, threads=2).run(x)
        assert got.shape == ref.shape
        assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max(), (backend, np.abs(got - ref).max())


def test_refusals_name_node_and_attribute(tmp_path):
    class AlignCorners(nn.Module):
        def forward(self, x):
            return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)

    class Reflect(nn.Module):
        def forward(self, x):
            return F.pad(x, (1, 1, 1, 1), mode="reflect")

    for net, words in ((AlignCorners(), "coordinate_transformation_mode=align_corners"),
                       (Reflect(), "mode=reflect")):
        path = tmp_path / "r.onnx"
        export(net, path, "torchscript")
        problems = check(str(path))
        assert len(problems) == 1 and words in problems[0] and "node '" in problems[0], problems
        with pytest.raises(UnsupportedOpError, match=words):
            convert(str(path))


def test_sizes_computed_at_conversion_pin_the_input_size(tmp_path, rng):
    """ceil_mode (and auto_pad SAME, Resize sizes, ConvTranspose output_shape, ...) become padding
    or factors computed for the converted size: such a model refuses another input size rather
    than re-planning to shapes ONNX Runtime would not give."""
    from attocore.errors import InputError

    class CeilPool(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 6, 3, padding=1)

        def forward(self, x):
            return F.max_pool2d(self.conv(x), 2, 2, ceil_mode=True)

    path = tmp_path / "ceil.onnx"
    export(CeilPool(), path, "torchscript")
    attocore.format.save(convert(str(path)), tmp_path / "ceil.atto")
    model = attocore.load(str(tmp_path / "ceil.atto"))
    assert "ceil_mode" in model.metadata.extra["fixed_input_size"]
    model.run(rng.standard_normal((1,) + SHAPE).astype(np.float32))
    with pytest.raises(InputError, match="ceil_mode=1 padding computed for this size"):
        model.run(rng.standard_normal((1, 4, 12, 15)).astype(np.float32))
    # Without them, the same net re-plans: Shuffle converts to size-free ops.
    path = tmp_path / "s.onnx"
    export(Shuffle(), path, "torchscript")
    attocore.format.save(convert(str(path)), tmp_path / "s.atto")
    model = attocore.load(str(tmp_path / "s.atto"))
    assert "fixed_input_size" not in model.metadata.extra
    assert model.run(rng.standard_normal((1, 4, 12, 15)).astype(np.float32)).shape == (1, 12, 12, 15)


def test_a_sequence_input_runs_as_n_c_l(tmp_path, rng):
    """An ONNX graph whose input is 3-D [N, C, L] (no image): Model.run takes (N, C, L) arrays,
    refuses images and other shapes by name, and matches ONNX Runtime."""
    from onnx import TensorProto, helper
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 1], name="t"),
             helper.make_node("Softmax", ["t"], ["s"], axis=-1, name="s"),
             helper.make_node("Mul", ["s", "k"], ["y"], name="m")]
    k = helper.make_tensor("k", TensorProto.FLOAT, [1, 1, 6], rng.uniform(0.5, 2, 6).astype(np.float32))
    graph = helper.make_graph(nodes, "seq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6, 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10, 6])], [k])
    path = tmp_path / "seq.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    convert(str(path), str(tmp_path / "seq.atto"))
    x = rng.standard_normal((3, 6, 10)).astype(np.float32)
    ref = ort_run(path, x)
    for backend in ("native", "numba"):
        model = attocore.load(str(tmp_path / "seq.atto"), backend=backend)
        assert model.takes_sequences and model.sample_shape == (6, 10)
        got = model.run(x)
        assert got.shape == (3, 10, 6)
        assert np.abs(got - ref).max() <= 1e-5 * np.abs(ref).max()
        with pytest.raises(attocore.InputError, match=r"\(N, 6, 10\)"):
            model.run(x[:, None])
        with pytest.raises(attocore.InputError, match="sequences"):
            model.preprocess(np.zeros((8, 8, 3), np.uint8))
