"""The ops on tensors of rank 2-4 that detection heads and decoders use (reshape, transpose,
eltwise_const, reduce_mean; concat, slice and softmax along any dimension but the batch):
each in small graphs through the file format, on every kernel set this CPU runs and 1 and 3
threads, against the numba oracle (numpy, NCHW), whose definitions are checked against
PyTorch; and their malformed forms refused alike by both readers."""
import numpy as np
import pytest

import attocore
from attocore.errors import GraphError
from attocore.graph import Graph, Metadata, Op, Tensor, infer_output_shape
from test_tensor_ops import Builder, run_everywhere


class ShapeBuilder(Builder):
    def reshape(self, x, shape):
        name = f"reshape{len(self.ops)}"
        self.tensors[name + ".out"] = Tensor(name + ".out", (1,) + tuple(shape))
        op = Op("reshape", name, [x], [name + ".out"])
        infer_output_shape(Graph(None, self.tensors, [], [], []), op)  # checks the element count
        self.ops.append(op)
        return op.outputs[0]


def _yolo_like_decode(b, maps, classes=3, bins=4):
    """The decoding an exported YOLOv8 head ends with, on attocore's ops: each map's
    [N, 4 * bins + classes, H, W] flattened and concatenated along the anchors, the box
    part's distribution softmaxed over its bins and collapsed by a 1x1 convolution,
    anchors added and subtracted, scaled by the strides, classes through a sigmoid."""
    flat = [b.reshape(m, (b.tensors[m].shape[1], b.tensors[m].shape[2] * b.tensors[m].shape[3])) for m in maps]
    cat = b.op("concat", flat, {"axis": (2,)})  # [N, 4 * bins + classes, A]
    anchors = b.tensors[cat].shape[2]
    box = b.op("slice", [cat], {"channels": (0, 4 * bins)})
    cls = b.op("slice", [cat], {"channels": (4 * bins, 4 * bins + classes)})
    dist = b.reshape(box, (4, bins, anchors))
    dist = b.op("transpose", [dist], {"perm": (0, 2, 1, 3)})  # [N, bins, 4, A]
    dist = b.op("softmax", [dist])
    proj = b.const("dfl", np.arange(bins, dtype=np.float32).reshape(1, bins, 1, 1))
    dist = b.op("conv2d", [dist, proj], {"kernel": (1, 1), "stride": (1, 1), "pad": (0,) * 4, "groups": (1,)})
    dist = b.reshape(dist, (4, anchors))
    lt = b.op("slice", [dist], {"channels": (0, 2)})
    rb = b.op("slice", [dist], {"channels": (2, 4)})
    grid = b.random("anchors", (1, 2, anchors), 3.0)
    x1y1 = b.op("eltwise_const", [lt, grid], {"kind": (1,), "swap": (1,)})  # anchors - lt
    x2y2 = b.op("eltwise_const", [rb, grid], {"kind": (0,)})
    centre = b.op("eltwise_const", [b.op("add", [x1y1, x2y2]), b.const("two", np.array([2.0], np.float32))],
                  {"kind": (3,)})
    box = b.op("concat", [centre, x2y2], {"axis": (1,)})
    strides = b.const("strides", np.linspace(8, 32, anchors, dtype=np.float32).reshape(1, anchors))
    box = b.op("eltwise_const", [box, strides], {"kind": (2,)})
    return b.op("concat", [box, b.op("activation", [cls], act="sigmoid")], {"axis": (1,)})


@pytest.mark.parametrize("hw", [(8, 8), (6, 10)])
def test_detection_head_decode(hw, tmp_path, rng, monkeypatch):
    b = ShapeBuilder((3,) + hw)
    p3 = b.conv("input", 19, act="relu")
    p4 = b.conv(p3, 19, stride=2)
    out = _yolo_like_decode(b, [p3, p4])
    x = rng.standard_normal((2, 3) + hw).astype(np.float32)
    got, kernels = run_everywhere(b.graph(out), x, tmp_path, monkeypatch)
    h, w = hw
    assert got.shape == (2, 7, h * w + ((h + 1) // 2) * ((w + 1) // 2))
    assert {"reshape_copy", "reshape_ref", "transpose_ref", "concat_axis_ref", "eltwise_const_ref"} <= set(kernels)


@pytest.mark.parametrize("perm", [(0, 2, 3, 1), (0, 3, 1, 2), (0, 1, 3, 2), (0, 2, 1, 3)])
def test_transpose_and_reshape_round_trip(perm, tmp_path, rng, monkeypatch):
    """A transpose of a 4-D map, a reshape to a rank-3 tensor of another channel count and
    a rank-3 transpose back (with a clamp riding on it)."""
    b = ShapeBuilder((6, 5, 7))
    x0 = b.conv("input", 6, k=1, pad=0)
    t = b.op("transpose", [x0], {"perm": perm})
    ts = b.tensors[t].shape
    r = b.reshape(t, (ts[-1], int(np.prod(ts[1:])) // ts[-1]))
    back = b.op("transpose", [r], {"perm": (0, 2, 1, 3)}, act="relu")
    x = rng.standard_normal((2, 6, 5, 7)).astype(np.float32)
    got, _ = run_everywhere(b.graph(back), x, tmp_path, monkeypatch)
    want = np.maximum(x0_ref(b, x).transpose(perm).reshape(2, ts[-1], -1).transpose(0, 2, 1), 0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def x0_ref(b, x):
    w, bias = b.tensors["w0"].data, b.tensors["b0"].data
    return np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x) + bias[None, :, None, None]


@pytest.mark.parametrize("axis", [1, 2, 3])
def test_softmax_and_concat_slice_along_any_axis(axis, tmp_path, rng, monkeypatch):
    torch = pytest.importorskip("torch")
    b = ShapeBuilder((4, 6, 5))
    a = b.conv("input", 4, k=1, pad=0)
    s = b.op("softmax", [a], {"axis": (axis,)})
    cat = b.op("concat", [s, a, s], {"axis": (axis,)})
    n = b.tensors[a].shape[axis]
    mid = b.op("slice", [cat], {"channels": (n - 1, 2 * n + 1), "axis": (axis,)}, act="relu6")
    x = rng.standard_normal((2, 4, 6, 5)).astype(np.float32)
    got, _ = run_everywhere(b.graph(mid), x, tmp_path, monkeypatch)
    ta = torch.from_numpy(x0_ref(b, x).astype(np.float32))
    ts = torch.softmax(ta, dim=axis)
    want = torch.cat([ts, ta, ts], dim=axis).narrow(axis, n - 1, n + 2).clamp(0, 6).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_rank3_softmax_slice_concat(tmp_path, rng, monkeypatch):
    b = ShapeBuilder((5, 4, 6))
    a = b.reshape(b.conv("input", 6, k=1, pad=0), (6, 24))  # [N, 6, 24]
    s2 = b.op("softmax", [a], {"axis": (2,)})
    s1 = b.op("softmax", [a], {"axis": (1,)})
    cat = b.op("concat", [s1, b.op("slice", [s2], {"channels": (3, 20), "axis": (2,)})], {"axis": (2,)})
    x = rng.standard_normal((3, 5, 4, 6)).astype(np.float32)
    got, _ = run_everywhere(b.graph(cat), x, tmp_path, monkeypatch)
    assert got.shape == (3, 6, 41)
    np.testing.assert_allclose(got[:, :, 24:].sum(axis=2) <= 1.0 + 1e-6, True)
    np.testing.assert_allclose(got[:, :, :24].sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("cshape", [(1,), (6, 1, 1), (1, 6, 1, 1), (1, 1, 7), (4, 7), (1, 6, 4, 7), (6, 4, 1)])
@pytest.mark.parametrize("kind,swap", [(0, 0), (1, 0), (1, 1), (2, 0), (3, 0), (3, 1)])
def test_eltwise_const_broadcasts_as_numpy(cshape, kind, swap, tmp_path, rng, monkeypatch):
    b = ShapeBuilder((3, 4, 7))
    a = b.conv("input", 6, k=1, pad=0)
    c = rng.uniform(0.5, 2.0, cshape).astype(np.float32)  # away from 0: a division by it stays finite
    if kind == 3 and swap:
        a = b.op("eltwise_const", [a, b.const("shift", np.array([100.0], np.float32))], {"kind": (0,)})
    y = b.op("eltwise_const", [a, b.const("c", c)], {"kind": (kind,), "swap": (swap,)})
    x = rng.standard_normal((2, 3, 4, 7)).astype(np.float32)
    got, _ = run_everywhere(b.graph(y), x, tmp_path, monkeypatch)
    base = x0_ref(b, x) + (100.0 if kind == 3 and swap else 0.0)
    op = [np.add, np.subtract, np.multiply, np.divide][kind]
    want = op(c, base) if swap else op(base, c)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("axes", [0b0010, 0b0100, 0b1000, 0b0110, 0b1010, 0b1100, 0b1110])
def test_reduce_mean_over_any_axes(axes, tmp_path, rng, monkeypatch):
    b = ShapeBuilder((3, 5, 6))
    a = b.conv("input", 7, k=1, pad=0)
    y = b.op("reduce_mean", [a], {"axes": (axes,)})
    x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    got, _ = run_everywhere(b.graph(y), x, tmp_path, monkeypatch)
    dims = tuple(k for k in (1, 2, 3) if axes >> k & 1)
    np.testing.assert_allclose(got, x0_ref(b, x).mean(axis=dims, keepdims=True), rtol=1e-5, atol=1e-6)


def test_reduce_mean_of_a_rank3_tensor(tmp_path, rng, monkeypatch):
    b = ShapeBuilder((3, 5, 6))
    a = b.reshape(b.conv("input", 7, k=1, pad=0), (7, 30))
    y = b.op("reduce_mean", [a], {"axes": (0b100,)})
    z = b.op("reduce_mean", [a], {"axes": (0b110,)})
    x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    got, _ = run_everywhere(b.graph(y), x, tmp_path, monkeypatch)
    np.testing.assert_allclose(got, x0_ref(b, x).reshape(2, 7, 30).mean(axis=2, keepdims=True), rtol=1e-5, atol=1e-6)
    got, _ = run_everywhere(b.graph(z), x, tmp_path, monkeypatch)
    np.testing.assert_allclose(got, x0_ref(b, x).reshape(2, 7, 30).mean(axis=(1, 2), keepdims=True), rtol=1e-5,
                               atol=1e-6)


def _single_op_file(tmp_path, kind, attrs, shape=(4, 6, 5), const=None, out_shape=None):
    """A valid one-op graph, then bent: written with attocore.format's writer, which checks
    nothing beyond the encoding (validate is bypassed), so both readers see the bad op."""
    tensors = {"input": Tensor("input", (1,) + shape)}
    inputs = ["input"]
    if const is not None:
        tensors["c"] = Tensor("c", const.shape, const)
        inputs.append("c")
    tensors["y"] = Tensor("y", out_shape or (1,) + shape)
    md = Metadata(name="bad", input_shape=shape, mean=(0.0,) * shape[0], std=(1.0,) * shape[0], resize=0)
    g = Graph(md, tensors, [Op(kind, "bent", inputs, ["y"], attrs)], ["input"], ["y"])
    path = tmp_path / "bad.atto"
    path.write_bytes(attocore.format.encode(g))
    return path


BENT = [
    ("transpose", {"perm": (1, 0, 2, 3)}, None, None, "keeping the batch first"),
    ("transpose", {"perm": (0, 1, 1, 3)}, None, None, "not a permutation"),
    ("transpose", {"perm": (0, 1, 2, 9)}, None, None, "not a permutation"),
    ("reshape", {}, None, (1, 4, 31), "cannot reshape"),
    ("reshape", {}, None, (2, 2, 30), "cannot reshape"),
    ("softmax", {"axis": (4,)}, None, None, "axis"),
    ("softmax", {"axis": (0,)}, None, None, "axis"),
    ("eltwise_const", {"kind": (2,)}, np.ones((3, 1, 1), np.float32), None, "does not broadcast"),
    ("eltwise_const", {"kind": (2,)}, np.ones((2, 4, 6, 5), np.float32), None, "does not broadcast"),
    ("eltwise_const", {"kind": (4,)}, np.ones((1,), np.float32), None, "kind"),
    ("eltwise_const", {"kind": (0,), "swap": (2,)}, np.ones((1,), np.float32), None, "swap"),
    ("reduce_mean", {"axes": (1,)}, None, (1, 4, 6, 5), "axes mask"),
    ("reduce_mean", {"axes": (16,)}, None, (1, 4, 6, 5), "axes mask"),
]


@pytest.mark.parametrize("kind,attrs,const,out_shape,message", BENT)
def test_bent_shape_ops_refused_by_both_readers(kind, attrs, const, out_shape, message, tmp_path):
    path = _single_op_file(tmp_path, kind, attrs, const=const, out_shape=out_shape)
    for backend in ("numba", "native"):
        with pytest.raises(GraphError, match=message):
            attocore.load(str(path), backend=backend)
