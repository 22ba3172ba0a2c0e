"""The AttoNet model zoo as data (../shared/attonet.md, Wong et al. 2019, Table 1).

One table per net; a single builder turns a table plus parameters into a Graph, so the
PyTorch module (attocore.torch), the seeded zoo models and the summary share one definition.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .graph import Graph, Metadata, Op, Tensor


@dataclass(frozen=True)
class ModuleSpec:
    c1: int      # pointwise compression width
    k: int       # channel multiplier of the grouped 3x3 (c2 = k * c1)
    stride: int  # stride of the grouped 3x3 and of the projection shortcut
    c3: int      # mixing width (first of the back-to-back 1x1s)
    cout: int    # decompression width = module output channels


@dataclass(frozen=True)
class NetSpec:
    name: str
    c0: int  # stem width
    modules: tuple


def _net(name, c0, rows):
    return NetSpec(name, c0, tuple(ModuleSpec(*r) for r in rows))


# Rows: (c1, k, stride, c3, cout). c2 = k * c1 is derived.
NETS = {n.name: n for n in [
    _net("attonet-a", 8, [
        (8, 4, 1, 16, 176), (16, 4, 1, 16, 176), (16, 4, 1, 16, 176),
        (40, 4, 2, 40, 400), (32, 4, 1, 24, 400), (40, 4, 1, 32, 400), (40, 4, 1, 32, 400),
        (80, 4, 2, 64, 808), (72, 4, 1, 72, 808), (80, 4, 1, 72, 808), (72, 4, 1, 72, 808),
        (72, 4, 1, 64, 808), (56, 4, 1, 56, 808),
        (160, 4, 2, 128, 952), (120, 4, 1, 88, 952), (112, 4, 1, 88, 952)]),
    _net("attonet-b", 8, [
        (8, 4, 1, 16, 168), (16, 4, 1, 8, 168), (16, 4, 1, 16, 168),
        (32, 4, 2, 24, 368), (16, 4, 1, 24, 368), (24, 4, 1, 24, 368), (24, 4, 1, 32, 368),
        (64, 4, 2, 48, 728), (40, 4, 1, 40, 728), (48, 4, 1, 48, 728), (56, 4, 1, 48, 728),
        (48, 4, 1, 40, 728), (32, 4, 1, 32, 728),
        (112, 4, 2, 96, 736), (72, 4, 1, 48, 736), (72, 4, 1, 56, 736)]),
    _net("attonet-c", 6, [
        (7, 2, 1, 8, 139), (5, 2, 1, 5, 139), (7, 2, 1, 6, 139),
        (19, 2, 2, 14, 328), (13, 2, 1, 9, 328), (19, 2, 1, 8, 328), (20, 2, 1, 12, 328),
        (39, 2, 2, 24, 628), (29, 2, 1, 28, 628), (37, 2, 1, 26, 628), (37, 2, 1, 32, 628),
        (37, 2, 1, 27, 628), (17, 2, 1, 24, 628),
        (67, 2, 2, 52, 527), (46, 2, 1, 30, 527), (49, 2, 1, 31, 527)]),
    _net("attonet-d", 3, [
        (7, 4, 1, 8, 112), (5, 4, 1, 5, 112), (7, 4, 1, 6, 112),
        (8, 4, 2, 8, 264), (8, 4, 1, 8, 264), (8, 4, 1, 8, 264), (8, 4, 1, 8, 264),
        (8, 4, 2, 8, 467), (8, 4, 1, 8, 467), (8, 4, 1, 8, 467), (8, 4, 1, 8, 467),
        (8, 4, 1, 8, 467), (8, 4, 1, 8, 467),
        (16, 4, 2, 8, 140), (8, 4, 1, 8, 140), (8, 4, 1, 8, 140)]),
]}

DEFAULT_CLASSES = 51
INPUT_SHAPE = (3, 224, 224)


def spec(name: str) -> NetSpec:
    key = name.lower().replace("_", "-")
    if key not in NETS:
        raise KeyError(f"unknown model '{name}'; the zoo has {', '.join(NETS)}")
    return NETS[key]


def is_zoo_name(name) -> bool:
    return isinstance(name, str) and name.lower().replace("_", "-") in NETS


@dataclass(frozen=True)
class ConvLayer:
    """One convolution of the net, named as in the graph and in attocore.torch."""
    name: str
    cin: int
    cout: int
    kernel: int
    stride: int
    pad: int
    groups: int
    activation: str


def conv_layers(net: NetSpec) -> list:
    """Every convolution of the net in execution order, with its shape."""
    layers = [ConvLayer("stem", 3, net.c0, 7, 2, 3, 1, "relu")]
    cin = net.c0
    for i, m in enumerate(net.modules, 1):
        p = f"m{i}"
        layers += [
            ConvLayer(f"{p}.compress", cin, m.c1, 1, 1, 0, 1, "relu"),
            ConvLayer(f"{p}.group", m.c1, m.k * m.c1, 3, m.stride, 1, m.c1, "relu"),
            ConvLayer(f"{p}.mix", m.k * m.c1, m.c3, 1, 1, 0, 1, "relu"),
            ConvLayer(f"{p}.decompress", m.c3, m.cout, 1, 1, 0, 1, "none"),
        ]
        if has_projection(cin, m):
            layers.append(ConvLayer(f"{p}.project", cin, m.cout, 1, m.stride, 0, 1, "none"))
        cin = m.cout
    return layers


def has_projection(cin: int, m: ModuleSpec) -> bool:
    return cin != m.cout or m.stride != 1


def build_graph(net: NetSpec, params: dict, num_classes: int = DEFAULT_CLASSES,
                labels=None, extra=None, input_hw: int = INPUT_SHAPE[1]) -> Graph:
    """Graph of `net` with params {layer name: (weight OIHW, bias)} incl. 'fc': (W [O,I], b)."""
    tensors, ops = {}, []

    def act(name, shape):
        tensors[name] = Tensor(name, tuple(shape))
        return name

    def const(name, array):
        a = np.ascontiguousarray(array, dtype=np.float32)
        tensors[name] = Tensor(name, a.shape, a)
        return name

    def conv(layer: ConvLayer, x: str, shape):
        w, b = params[layer.name]
        n, c, h, wd = shape
        oh = (h + 2 * layer.pad - layer.kernel) // layer.stride + 1
        ow = (wd + 2 * layer.pad - layer.kernel) // layer.stride + 1
        out_shape = (n, layer.cout, oh, ow)
        y = act(f"{layer.name}.out", out_shape)
        ops.append(Op("conv2d", layer.name,
                      [x, const(f"{layer.name}.weight", w), const(f"{layer.name}.bias", b)], [y],
                      {"kernel": (layer.kernel,) * 2, "stride": (layer.stride,) * 2,
                       "pad": (layer.pad,) * 4, "dilation": (1, 1), "groups": (layer.groups,)},
                      layer.activation))
        return y, out_shape

    layers = {l.name: l for l in conv_layers(net)}
    shape_in = (3, input_hw, input_hw)
    shape = (1, 3, input_hw, input_hw)
    x = act("input", shape)
    x, shape = conv(layers["stem"], x, shape)
    pooled = (1, shape[1], (shape[2] - 1) // 2 + 1, (shape[3] - 1) // 2 + 1)
    y = act("pool.out", pooled)
    ops.append(Op("maxpool2d", "pool", [x], [y], {"kernel": (3, 3), "stride": (2, 2), "pad": (1, 1, 1, 1)}))
    x, shape = y, pooled
    for i, m in enumerate(net.modules, 1):
        p = f"m{i}"
        block_in, in_shape = x, shape
        y, s = conv(layers[f"{p}.compress"], x, shape)
        y, s = conv(layers[f"{p}.group"], y, s)
        y, s = conv(layers[f"{p}.mix"], y, s)
        y, s = conv(layers[f"{p}.decompress"], y, s)
        shortcut = block_in
        if f"{p}.project" in layers:
            shortcut, _ = conv(layers[f"{p}.project"], block_in, in_shape)
        x = act(f"{p}.out", s)
        ops.append(Op("add", f"{p}.add", [y, shortcut], [x], {}, "relu"))
        shape = s
    g = act("gap.out", (1, shape[1]))
    ops.append(Op("global_avgpool", "gap", [x], [g]))
    fw, fb = params["fc"]
    logits = act("logits", (1, num_classes))
    ops.append(Op("fully_connected", "fc", [g, const("fc.weight", fw), const("fc.bias", fb)], [logits]))
    labels = tuple(labels) if labels else tuple(f"class_{i}" for i in range(num_classes))
    md = Metadata(name=net.name, input_shape=shape_in, labels=labels, extra=dict(extra or {}),
                  resize=round(input_hw * 256 / 224))
    return Graph(md, tensors, ops, ["input"], ["logits"])


def seeded_params(net: NetSpec, num_classes: int = DEFAULT_CLASSES, seed: int = 0) -> dict:
    """Deterministic He-initialised weights with small biases (an untrained stand-in).

    The residual branch's last layer is scaled down so activations stay O(1) through 16 modules.
    """
    rng = np.random.default_rng(seed)
    params = {}
    for l in conv_layers(net):
        fan_in = (l.cin // l.groups) * l.kernel * l.kernel
        w = rng.standard_normal((l.cout, l.cin // l.groups, l.kernel, l.kernel)) * np.sqrt(2.0 / fan_in)
        if l.name.endswith(("decompress", "project")):
            w *= 0.5
        params[l.name] = (w.astype(np.float32), (0.01 * rng.standard_normal(l.cout)).astype(np.float32))
    cin = net.modules[-1].cout
    params["fc"] = ((rng.standard_normal((num_classes, cin)) * np.sqrt(1.0 / cin)).astype(np.float32),
                    np.zeros(num_classes, np.float32))
    return params


def shrunk(net: NetSpec, divisor: int) -> NetSpec:
    """The same architecture with every width divided (at least 1): small files with the
    real graph structure, for fuzzing seeds and fast tests."""
    d = lambda c: max(1, c // divisor)
    return NetSpec(f"{net.name}/{divisor}", d(net.c0),
                   tuple(ModuleSpec(d(m.c1), m.k, m.stride, d(m.c3), d(m.cout)) for m in net.modules))


def seeded_graph(name: str, seed: int = 0, input_hw: int = INPUT_SHAPE[1]) -> Graph:
    """The zoo net with seeded weights; a smaller input_hw gives a shrunk net (tests, fuzzing)."""
    net = spec(name)
    return build_graph(net, seeded_params(net, seed=seed),
                       extra={"trained": "false", "weights": f"seeded random, seed {seed}"}, input_hw=input_hw)
