"""The smooth activations (sigmoid, hard sigmoid, hard swish, SiLU) and the mul op (same shape,
or a per-channel scale): exact against numpy, on every backend, at any batch and thread count;
and the file rules both readers apply to them (a smooth activation only on an activation op,
mul's operand shapes), with the same error class from the Python reader, the native loader and
the C API."""
import numpy as np
import pytest

import attocore
from attocore import capi
from attocore import format as fmt
from attocore.graph import Graph, Metadata, Op, Tensor

C, H, W = 6, 5, 7


def numpy_activation(kind, v):
    v = v.astype(np.float64)
    gate = np.clip(v + 3, 0, 6) / 6
    return {"sigmoid": 1 / (1 + np.exp(-v)), "hardsigmoid": gate, "hardswish": v * gate,
            "silu": v / (1 + np.exp(-v))}[kind]


def se_graph(kind, conv_activation="none", scale_shape=None):
    """conv -> activation(kind) -> x * (per-channel scale from a pooled gate) -> pool -> fc."""
    rng = np.random.default_rng(0)
    t = {"x": Tensor("x", (1, 3, H, W)),
         "w": Tensor("w", (C, 3, 3, 3), rng.standard_normal((C, 3, 3, 3)).astype(np.float32)),
         "c": Tensor("c", (1, C, H, W)), "a": Tensor("a", (1, C, H, W)), "g": Tensor("g", (1, C)),
         "s": Tensor("s", (1, C)), "m": Tensor("m", (1, C, H, W)), "p": Tensor("p", (1, C)),
         "fw": Tensor("fw", (4, C), rng.standard_normal((4, C)).astype(np.float32)), "y": Tensor("y", (1, 4))}
    if scale_shape is not None:
        t["s"] = Tensor("s", scale_shape)
        t["g"] = Tensor("g", scale_shape)
    ops = [Op("conv2d", "conv", ["x", "w"], ["c"], {"kernel": (3, 3), "stride": (1, 1), "pad": (1, 1, 1, 1),
                                                    "groups": (1,)}, conv_activation),
           Op("activation", "act", ["c"], ["a"], {}, kind),
           Op("global_avgpool", "squeeze", ["a"], ["g"]),
           Op("activation", "gate", ["g"], ["s"], {}, "sigmoid"),
           Op("mul", "excite", ["a", "s"], ["m"]),
           Op("global_avgpool", "pool", ["m"], ["p"]),
           Op("fully_connected", "fc", ["p", "fw"], ["y"])]
    return Graph(Metadata(input_shape=(3, H, W), mean=(0.0,) * 3, std=(1.0,) * 3), t, ops, ["x"], ["y"])


def reference(graph, x):
    w, fw = graph.tensors["w"].data.astype(np.float64), graph.tensors["fw"].data.astype(np.float64)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    c = np.zeros((x.shape[0], C, H, W))
    for ky in range(3):
        for kx in range(3):
            c += np.einsum("nihw,oi->nohw", xp[:, :, ky:ky + H, kx:kx + W], w[:, :, ky, kx])
    a = numpy_activation(graph.ops[1].activation, c)
    s = numpy_activation("sigmoid", a.mean(axis=(2, 3)))
    return (a * s[:, :, None, None]).mean(axis=(2, 3)) @ fw.T


@pytest.mark.parametrize("kind", ["sigmoid", "hardsigmoid", "hardswish", "silu"])
def test_every_backend_computes_the_activation_and_the_channel_scale(kind, rng):
    graph = se_graph(kind)
    data = fmt.encode(graph)
    x = (rng.standard_normal((3, 3, H, W)) * 4).astype(np.float32)  # reaches both sides of every knee
    want = reference(graph, x)
    results = {}
    for backend in ("native", "numba"):
        for threads in (1, 3):
            got = attocore.load(data, backend=backend, threads=threads).run(x)
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
            results[(backend, threads)] = got
    np.testing.assert_array_equal(results[("native", 1)], results[("native", 3)])  # bit-identical across splits
    np.testing.assert_allclose(capi.load(data, threads=2).run(x), results[("native", 1)], rtol=0, atol=0)


def loaders(data):
    """The error class each reader gives a file: the Python reader, the native loader, the C API."""
    got = []
    for load in (lambda: fmt.decode(data), lambda: attocore.load(data), lambda: capi.load(data)):
        try:
            load()
            got.append(None)
        except attocore.AttocoreError as e:
            got.append((type(e), str(e)))
    return got


def test_a_smooth_activation_on_a_convolution_is_refused_by_every_reader():
    got = loaders(fmt.encode(se_graph("silu", conv_activation="hardswish")))
    assert all(g is not None and g[0] is attocore.UnsupportedOpError for g in got), got
    assert all("activation hardswish only on an activation op" in g[1] for g in got), got


def mul_of(scale):
    """x (1, C, H, W) times a scale computed from it by `scale` ops: (name, op, shape) rows."""
    t = {"x": Tensor("x", (1, C, H, W)), "y": Tensor("y", (1, C, H, W))}
    ops = []
    for name, op, shape in scale:
        t[name] = Tensor(name, shape)
        ops.append(op)
    ops.append(Op("mul", "excite", ["x", scale[-1][0]], ["y"]))
    return Graph(Metadata(input_shape=(C, H, W), mean=(0.0,) * C, std=(1.0,) * C), t, ops, ["x"], ["y"])


def pool(name, kernel, shape):
    return name, Op("avgpool2d", name, ["x"], [name], {"kernel": kernel, "stride": kernel, "pad": (0, 0, 0, 0)}), shape


WRONG_SCALES = {
    "(N, C, H, 1)": [pool("s", (1, W), (1, C, H, 1))],
    "(N, C, 1, 1)": [pool("s", (H, W), (1, C, 1, 1))],
    "(N, C + 1)": [("g", Op("global_avgpool", "g", ["x"], ["g"]), (1, C)),
                   ("fw", None, (C + 1, C)), ("s", Op("fully_connected", "s", ["g", "fw"], ["s"]), (1, C + 1))],
}


@pytest.mark.parametrize("case", list(WRONG_SCALES))
def test_mul_operands_of_other_shapes_are_refused_by_every_reader(case):
    rows = WRONG_SCALES[case]
    graph = mul_of([r for r in rows if r[1] is not None])
    for name, op, shape in rows:
        if op is None:  # a weight
            graph.tensors[name] = Tensor(name, shape, np.ones(shape, np.float32))
    got = loaders(fmt.encode(graph))
    assert all(g is not None and issubclass(g[0], attocore.GraphError) for g in got), got
    assert all("op 'excite' (mul)" in g[1] and "scale per channel" in g[1] for g in got), got  # the mul rule, not another


@pytest.mark.parametrize("activation", ["relu", "relu6"])
@pytest.mark.parametrize("per_channel", [False, True])
def test_mul_applies_its_clamp_on_every_backend(activation, per_channel, rng):
    """A clamp may ride on any op (docs/FORMAT.md), mul's too."""
    rows = [("g", Op("global_avgpool", "g", ["x"], ["g"]), (1, C))] if per_channel else \
        [("a", Op("activation", "a", ["x"], ["a"], {}, "hardswish"), (1, C, H, W))]
    graph = mul_of(rows)
    graph.ops[-1].activation = activation
    data = fmt.encode(graph)
    x = (rng.standard_normal((3, C, H, W)) * 3).astype(np.float32)
    scale = x.mean(axis=(2, 3), keepdims=True) if per_channel else numpy_activation("hardswish", x)
    want = np.clip(x * scale, 0, 6 if activation == "relu6" else np.inf)
    backends = [attocore.load(data), attocore.load(data, backend="numba"), capi.load(data)]
    for m in backends:
        np.testing.assert_allclose(m.run(x), want, rtol=1e-5, atol=1e-5)


def test_mul_by_a_constant_is_refused_by_every_reader():
    graph = se_graph("sigmoid")
    graph.tensors["s"] = Tensor("s", (1, C), np.ones((1, C), np.float32))
    graph.ops = [op for op in graph.ops if op.name != "gate"]
    got = loaders(fmt.encode(graph))
    assert all(g is not None and g[0] is attocore.UnsupportedOpError and "must be an activation" in g[1]
               for g in got), got


def test_the_tvm_backend_lowers_them(rng):
    pytest.importorskip("tvm")
    x = (rng.standard_normal((1, 3, H, W)) * 4).astype(np.float32)
    for kind in ("sigmoid", "hardsigmoid", "hardswish", "silu"):
        graph = se_graph(kind)
        got = attocore.load(fmt.encode(graph), backend="tvm", tuned=False).run(x)
        want = reference(graph, x)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


@pytest.mark.parametrize("kind", ["sigmoid", "hardswish", "silu"])
def test_a_convolution_takes_its_smooth_activation_along(kind, rng):
    """conv_activation: the activation runs on each piece of the convolution's output as it is
    written (one step, the profile says so), with the definition's values; a convolution whose
    output another op reads too keeps its activation a step of its own."""
    graph = se_graph(kind)
    x = (rng.standard_normal((2, 3, H, W)) * 4).astype(np.float32)
    model = attocore.load(fmt.encode(graph), threads=2)
    logits, steps = model.profile(x)
    assert [s.layer for s in steps][0] == "conv+act" and steps[0].kernel.split(":")[0].endswith("+" + kind), steps[0]
    apart = se_graph(kind)
    apart.ops[2].inputs = ["c"]  # squeeze reads the conv's output: not the activation's alone
    ref = attocore.load(fmt.encode(apart), threads=2).profile(x)[1]
    assert ref[0].layer == "conv" and ref[1].layer == "act"
    np.testing.assert_allclose(logits, reference(graph, x), rtol=1e-4, atol=1e-5 * np.abs(logits).max())
