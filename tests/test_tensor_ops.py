"""The float32 ops of the exported CNNs (concat, slice, channel shuffle, resize, softmax,
transposed convolution, PReLU, pad, clip, tanh, dilated convolution): each in a small graph,
through the file format, on every kernel set this CPU runs (reference, AVX2, AVX-512 or NEON;
fused and unfused) and 1 and 3 threads, against numpy (the numba backend) and PyTorch."""
import numpy as np
import pytest

import attocore
from attocore.errors import GraphError, ResourceLimitError, UnsupportedOpError
from attocore.graph import Graph, Metadata, Op, Tensor, infer_output_shape, validate



class Builder:
    """A graph built op by op with shapes inferred: the input, then ops reading earlier tensors."""

    def __init__(self, shape, seed=0):
        self.rng = np.random.default_rng(seed)
        self.tensors = {"input": Tensor("input", (1,) + tuple(shape))}
        self.ops = []
        self.shape = tuple(shape)

    def const(self, name, array):
        self.tensors[name] = Tensor(name, tuple(array.shape), np.ascontiguousarray(array, np.float32))
        return name

    def random(self, name, shape, scale=0.5):
        return self.const(name, scale * self.rng.standard_normal(shape))

    def op(self, kind, inputs, attrs=None, act="none"):
        name = f"{kind}{len(self.ops)}"
        op = Op(kind, name, list(inputs), [name + ".out"], attrs or {}, act)
        g = Graph(None, self.tensors, [], [], [])
        self.tensors[op.outputs[0]] = Tensor(op.outputs[0], tuple(infer_output_shape(g, op)))
        self.ops.append(op)
        return op.outputs[0]

    def conv(self, x, cout, k=3, stride=1, pad=1, groups=1, dilation=1, act="none"):
        cin = self.tensors[x].shape[1]
        n = len(self.ops)
        w = self.random(f"w{n}", (cout, cin // groups, k, k), 1 / np.sqrt(cin // groups * k * k))
        b = self.random(f"b{n}", (cout,), 0.1)
        return self.op("conv2d", [x, w, b], {"kernel": (k, k), "stride": (stride, stride), "pad": (pad,) * 4,
                                             "dilation": (dilation, dilation), "groups": (groups,)}, act)

    def graph(self, *outputs):
        used = {t for op in self.ops for t in op.inputs + op.outputs} | {"input"}
        tensors = {k: v for k, v in self.tensors.items() if k in used}
        md = Metadata(name="ops", input_shape=self.shape, mean=(0.0,) * self.shape[0], std=(1.0,) * self.shape[0],
                      resize=0)
        g = Graph(md, tensors, self.ops, ["input"], list(outputs))
        validate(g)
        return g


def run_everywhere(graph, x, tmp_path, monkeypatch, rtol=1e-5):
    """The graph's output on the numba oracle, then on the unfused reference and on every
    native kernel set this CPU runs, at 1 and 3 threads, each checked against the oracle.
    Returns the oracle's output and the kernels the default set ran."""
    path = tmp_path / "g.atto"
    attocore.format.save(graph, path)
    ref = attocore.load(str(path), backend="numba").run(x)
    scale = max(float(np.abs(ref).max()), 1e-30)
    runs = [("ref-unfused", dict(force_reference=True))] + [(isa, {}) for isa in attocore.available_isas()]
    kernels = []
    for isa, options in runs:
        monkeypatch.setenv("ATTOCORE_ISA", "" if options else isa)
        for threads in (1, 3):
            model = attocore.load(str(path), threads=threads, **options)
            got = model.run(x)
            assert got.shape == ref.shape
            err = float(np.abs(got - ref).max())
            assert err <= rtol * scale, (isa, threads, err, scale)
        kernels = [t.kernel for t in model.profile(x)[1]]
    return ref, kernels


SHAPES = [(3, 9, 11), (5, 16, 16), (16, 7, 5)]


@pytest.mark.parametrize("shape", SHAPES)
def test_concat_slice_shuffle(shape, tmp_path, rng, monkeypatch):
    b = Builder(shape)
    a = b.conv("input", 12, act="relu")
    c = b.conv("input", 4, k=1, pad=0)
    d = b.conv("input", 8, k=3, dilation=2, pad=2)
    cat = b.op("concat", [a, c, d, a])
    left = b.op("slice", [cat], {"channels": (3, 17)})
    right = b.op("slice", [cat], {"channels": (17, 36)})
    mixed = b.op("concat", [b.op("channel_shuffle", [left], {"groups": (2,)}), right])
    out = b.op("channel_shuffle", [mixed], {"groups": (11,)})
    x = rng.standard_normal((2,) + shape).astype(np.float32)
    got, _ = run_everywhere(b.graph(out), x, tmp_path, monkeypatch)
    # The numba oracle's own ops, checked once against numpy's definitions.
    assert got.shape == (2, 33) + shape[1:]


@pytest.mark.parametrize("mode", [0, 1])
@pytest.mark.parametrize("scale", [(2, 2), (3, 1), (1, 4)])
def test_resize_matches_pytorch(mode, scale, tmp_path, rng, monkeypatch):
    torch = pytest.importorskip("torch")
    b = Builder((6, 5, 7))
    y = b.op("resize", ["input"], {"scale": scale, "mode": (mode,)})
    y = b.op("resize", [b.conv(y, 10)], {"scale": scale, "mode": (mode,)})
    x = rng.standard_normal((2, 6, 5, 7)).astype(np.float32)
    got, _ = run_everywhere(b.graph(y), x, tmp_path, monkeypatch)
    tw = {k: torch.from_numpy(b.tensors[k].data) for k in ("w1", "b1")}
    interpolate = lambda v: torch.nn.functional.interpolate(v, scale_factor=scale,  # noqa: E731
                                                            mode="nearest" if mode == 0 else "bilinear",
                                                            align_corners=None if mode == 0 else False)
    conv_out = torch.nn.functional.conv2d(interpolate(torch.from_numpy(x)), tw["w1"], tw["b1"], padding=1)
    want = torch.nn.functional.interpolate(conv_out, scale_factor=scale,
                                           mode="nearest" if mode == 0 else "bilinear",
                                           align_corners=None if mode == 0 else False).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_softmax_prelu_clip_tanh_pad(tmp_path, rng, monkeypatch):
    b = Builder((7, 6, 9))
    x0 = b.conv("input", 24)
    s = b.op("softmax", [x0])
    p1 = b.op("prelu", [x0, b.random("slopes", (24,))])
    p2 = b.op("prelu", [p1, b.const("leak", np.array([0.1], np.float32))], act="relu6")
    c = b.op("clip", [p2, b.const("bounds", np.array([-0.25, 0.75], np.float32))])
    t = b.op("activation", [b.op("add", [c, s])], act="tanh")
    out = b.op("pad", [t], {"pad": (1, 0, 2, 3)})
    x = rng.standard_normal((2, 7, 6, 9)).astype(np.float32)
    got, _ = run_everywhere(b.graph(out), x, tmp_path, monkeypatch)
    assert got.shape == (2, 24, 9, 12)
    assert np.all(got[:, :, 0] == 0) and np.all(got[:, :, -2:] == 0) and np.all(got[..., -3:] == 0)


def test_softmax_rows_sum_to_one(tmp_path, rng, monkeypatch):
    b = Builder((40, 1, 1))
    g = b.op("global_avgpool", ["input"])
    out = b.op("softmax", [g])
    x = (20 * rng.standard_normal((3, 40, 1, 1))).astype(np.float32)
    got, _ = run_everywhere(b.graph(out), x, tmp_path, monkeypatch)
    np.testing.assert_allclose(got.sum(axis=1), 1, rtol=1e-5)


CT_CASES = [  # kernel, stride, pad, output_pad, dilation, groups
    (2, 2, 0, 0, 1, 1),  # the FPN / DB 2x up-sampling: the GEMM path
    (4, 4, 0, 0, 1, 1),
    (3, 2, 1, 1, 1, 1),
    (4, 2, 1, 0, 1, 1),
    (3, 1, 1, 0, 1, 1),
    (3, 2, 0, 0, 2, 1),
    (2, 2, 0, 0, 1, 2),
    (3, 3, 2, 2, 1, 4),
]


@pytest.mark.parametrize("case", CT_CASES)
def test_conv_transpose_matches_pytorch(case, tmp_path, rng, monkeypatch):
    torch = pytest.importorskip("torch")
    k, s, p, op_, d, groups = case
    cin, cout = 8, 12
    conv = torch.nn.ConvTranspose2d(cin, cout, k, stride=s, padding=p, output_padding=op_, dilation=d, groups=groups)
    b = Builder((cin, 5, 6))
    w = b.const("ct.w", conv.weight.detach().numpy())
    bias = b.const("ct.b", conv.bias.detach().numpy())
    attrs = {"kernel": (k, k), "stride": (s, s), "pad": (p,) * 4, "dilation": (d, d), "groups": (groups,),
             "output_pad": (op_, op_)}
    y = b.op("conv_transpose", ["input", w, bias], attrs, act="relu")
    x = rng.standard_normal((2, cin, 5, 6)).astype(np.float32)
    got, kernels = run_everywhere(b.graph(y), x, tmp_path, monkeypatch)
    want = torch.relu(conv(torch.from_numpy(x))).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    if k == s and p == op_ == 0 and d == groups == 1 and attocore.available_isas() != ["ref"]:
        assert kernels[0].startswith("conv_transpose_gemm"), kernels


@pytest.mark.parametrize("dilation", [2, 3])
def test_dilated_convolution_fast_paths(dilation, tmp_path, rng, monkeypatch):
    b = Builder((16, 13, 12))
    y = b.conv("input", 24, dilation=dilation, pad=dilation, act="relu")
    z = b.conv(y, 24, groups=24, dilation=dilation, pad=dilation)  # depthwise, dilated
    out = b.conv(z, 8, k=5, dilation=dilation, pad=2 * dilation, stride=2)
    x = rng.standard_normal((2, 16, 13, 12)).astype(np.float32)
    _, kernels = run_everywhere(b.graph(out), x, tmp_path, monkeypatch)
    if attocore.available_isas() != ["ref"]:
        assert not any("conv2d_ref" in k for k in kernels), kernels


def _one_op_graph(kind, attrs, shape=(4, 6, 6), extra=()):
    b = Builder(shape)
    return b, Op(kind, "bad", ["input", *extra], ["bad.out"], attrs)


@pytest.mark.parametrize("kind,attrs,error", [
    ("slice", {"channels": (2, 2)}, GraphError),
    ("slice", {"channels": (0, 5)}, GraphError),
    ("channel_shuffle", {"groups": (3,)}, GraphError),
    ("channel_shuffle", {"groups": (0,)}, GraphError),
    ("resize", {"scale": (0, 2), "mode": (0,)}, GraphError),
    ("resize", {"scale": (1 << 20, 1 << 20), "mode": (1,)}, ResourceLimitError),
    ("pad", {"pad": (1 << 20, 1 << 20, 1 << 20, 1 << 20)}, ResourceLimitError),
])
def test_bad_attributes_refused_by_both_readers(kind, attrs, error, tmp_path):
    b, op = _one_op_graph(kind, attrs)
    b.tensors["bad.out"] = Tensor("bad.out", (1, 4, 6, 6))
    b.ops.append(op)
    g = Graph(Metadata(input_shape=(4, 6, 6), mean=(0.0,) * 4, std=(1.0,) * 4), b.tensors, b.ops, ["input"],
              ["bad.out"])
    with pytest.raises(error):
        validate(g)
    # Both readers say the same of the same bytes (written without the writer's checks).
    raw = attocore.format.encode(g)
    with pytest.raises(error):
        attocore.format.decode(raw)
    with pytest.raises(error):
        attocore.load(raw)


def test_resize_mode_out_of_range_is_refused():
    b, op = _one_op_graph("resize", {"scale": (2, 2), "mode": (2,)})
    with pytest.raises(GraphError, match="mode"):
        attocore.graph.check_attribute(op, "mode", (2,))


def test_int8_operands_are_refused_by_both_readers():
    b = Builder((4, 6, 6))
    y = b.op("channel_shuffle", [b.conv("input", 8)], {"groups": (2,)})
    out = b.op("dequantize", [y])
    b.tensors[y].dtype, b.tensors[y].scales = "int8", (0.1,)
    g = Graph(Metadata(input_shape=(4, 6, 6), mean=(0.0,) * 4, std=(1.0,) * 4), b.tensors, b.ops, ["input"], [out])
    with pytest.raises(UnsupportedOpError, match="float32 only"):
        validate(g)
    with pytest.raises(UnsupportedOpError, match="float32 only"):
        attocore.load(attocore.format.encode(g))


@pytest.mark.parametrize("shape", SHAPES)
def test_concat_written_in_place_by_its_convolutions(shape, tmp_path, rng, monkeypatch):
    """A concat whose inputs are dense convolutions read by it alone takes them into its step
    (concat_in_place): each writes its channel range of the output directly; inputs read
    elsewhere (a), or made by other ops (the pool), are copied in."""
    b = Builder(shape)
    a = b.conv("input", 12, act="relu")
    pointwise = b.conv("input", 5, k=1, pad=0)
    pool = b.op("maxpool2d", ["input"], {"kernel": (3, 3), "stride": (1, 1), "pad": (1, 1, 1, 1)})
    three = b.conv(a, 7, act="relu6")
    strided = b.conv(a, 9, k=1, pad=0)
    out = b.op("concat", [pointwise, pool, a, three, strided])
    x = rng.standard_normal((2,) + shape).astype(np.float32)
    _, kernels = run_everywhere(b.graph(out), x, tmp_path, monkeypatch)
    if attocore.available_isas() != ["ref"]:
        assert kernels[-1].startswith("concat_in_place(conv1x1+copy+copy+igemm+conv1x1)"), kernels
        assert len(kernels) == 3, kernels  # the first convolution, the pool, the concat with three inside


@pytest.mark.parametrize("hw", [(7, 9), (16, 16)])
def test_squeeze_excitation_scale_rides_on_its_projection(hw, tmp_path, rng, monkeypatch):
    """The channel scale of a squeeze-and-excitation block, its 1x1 projection and the residual
    add are one step (scaled_conv1x1): per image, its own scales (batch 3 crosses images)."""
    b = Builder((24,) + hw)
    x = b.conv("input", 24, act="relu")
    squeezed = b.op("global_avgpool", [x])
    n = len(b.ops)
    gate = b.op("fully_connected", [squeezed, b.random(f"w{n}", (24, 24), 0.3), b.random(f"b{n}", (24,), 0.1)])
    gate = b.op("activation", [gate], act="sigmoid")
    scaled = b.op("mul", [x, gate])
    out = b.op("add", [b.conv(scaled, 24, k=1, pad=0), x], act="relu")
    xin = rng.standard_normal((3, 24) + hw).astype(np.float32)
    _, kernels = run_everywhere(b.graph(out), xin, tmp_path, monkeypatch)
    if attocore.available_isas() != ["ref"]:
        assert kernels[-1].startswith("scale+conv1x1+res"), kernels
