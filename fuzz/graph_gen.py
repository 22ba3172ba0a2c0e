"""Structure-aware test inputs for the weight format's readers and the native executor.

random_graph(rng) builds a valid random graph out of every op and every pattern the fusion
planner knows (csrc/plan/fusion.h), on random small shapes; mutate(rng, graph) changes one
thing about a valid graph at the level of meaning (an attribute, the arity, a shape, an edge,
the metadata, a weight, a reserved field, a string's bytes) and returns the file bytes with
the checksum recomputed, so the mutation reaches the checks behind the checksum.

Used by fuzz/structured_fuzz.py (the long campaign, which also feeds libFuzzer's corpus) and
tests/test_differential.py (both readers must accept and refuse exactly the same files).
"""
from __future__ import annotations

import struct

import numpy as np

from attocore import format as fmt
from attocore.graph import OP_ATTRS, Graph, Metadata, Op, Tensor, conv_output_size

ACTIVATIONS = ("none", "relu", "relu6")  # the clamps: on any op
SMOOTH = ("sigmoid", "hardsigmoid", "hardswish", "silu", "tanh")  # only as activation ops
# Expanded tensors at least this large make the planner fuse expansion, depthwise and projection
# (kMbConvMinExpandedBytes in csrc/plan/fusion.cpp).
MBCONV_MIN_EXPANDED_FLOATS = (3 << 20) // 4


class _Builder:
    """A graph under construction: every helper appends one valid op and returns its output."""

    def __init__(self, rng, in_shape):
        self.rng = rng
        self.tensors, self.ops = {}, []
        self.shape = {}
        self.input = self._act("input", (1,) + tuple(in_shape))

    def _act(self, name, shape):
        self.tensors[name] = Tensor(name, tuple(int(d) for d in shape))
        self.shape[name] = tuple(int(d) for d in shape)
        return name

    def _const(self, name, shape, scale):
        data = (scale * self.rng.standard_normal(shape)).astype(np.float32)
        self.tensors[name] = Tensor(name, tuple(shape), data)
        return name

    def _name(self, kind):
        return f"{kind}{len(self.ops)}"

    def act_choice(self, p_none=0.4):
        r = self.rng.random()
        return "none" if r < p_none else ("relu" if r < 0.85 else "relu6")

    def conv(self, x, cout, k=1, stride=1, pad=None, groups=1, act=None, bias=True, dilation=1, kw=None,
             stride_w=None):
        n, c, h, w = self.shape[x]
        kh, kw = k, (k if kw is None else kw)
        sh, sw = stride, (stride if stride_w is None else stride_w)
        if pad is None:
            pad = (kh // 2, kw // 2, kh // 2, kw // 2)
        oh = conv_output_size(h, kh, sh, pad[0], pad[2], dilation)
        ow = conv_output_size(w, kw, sw, pad[1], pad[3], dilation)
        if oh < 1 or ow < 1:  # too small for this window: a 1x1 instead
            return self.conv(x, cout, 1, 1, (0, 0, 0, 0), 1 if groups != c else groups, act, bias)
        name = self._name("conv")
        fan_in = (c // groups) * kh * kw
        ins = [x, self._const(f"{name}.w", (cout, c // groups, kh, kw), np.sqrt(2.0 / fan_in))]
        if bias:
            ins.append(self._const(f"{name}.b", (cout,), 0.1))
        attrs = {"kernel": (kh, kw), "stride": (sh, sw), "pad": tuple(pad), "groups": (groups,)}
        if dilation != 1 or self.rng.random() < 0.5:
            attrs["dilation"] = (dilation, dilation)
        y = self._act(f"{name}.out", (n, cout, oh, ow))
        self.ops.append(Op("conv2d", name, ins, [y], attrs, self.act_choice() if act is None else act))
        return y

    def pool(self, x, kind="maxpool2d"):
        n, c, h, w = self.shape[x]
        k = int(self.rng.integers(1, 4))
        s = int(self.rng.integers(1, 3))
        pads = tuple(int(self.rng.integers(0, k)) for _ in range(4))
        oh, ow = conv_output_size(h, k, s, pads[0], pads[2]), conv_output_size(w, k, s, pads[1], pads[3])
        if oh < 1 or ow < 1:
            return x
        name = self._name("pool")
        attrs = {"kernel": (k, k), "stride": (s, s), "pad": pads}
        if kind == "avgpool2d" and self.rng.random() < 0.7:
            attrs["count_include_pad"] = (int(self.rng.integers(0, 2)),)
        y = self._act(f"{name}.out", (n, c, oh, ow))
        self.ops.append(Op(kind, name, [x], [y], attrs, self.act_choice(0.7)))
        return y

    def add(self, a, b, act=None):
        name = self._name("add")
        y = self._act(f"{name}.out", self.shape[a])
        self.ops.append(Op("add", name, [a, b], [y], {}, self.act_choice(0.3) if act is None else act))
        return y

    def activation(self, x):
        name = self._name("act")
        y = self._act(f"{name}.out", self.shape[x])
        kind = SMOOTH[int(self.rng.integers(0, len(SMOOTH)))] if self.rng.random() < 0.4 else \
            ("relu" if self.rng.random() < 0.6 else "relu6")
        self.ops.append(Op("activation", name, [x], [y], {}, kind))
        return y

    def squeeze_excite(self, x):
        """Global pool, FC down, activation, FC up, sigmoid gate, per-channel mul (or, one time
        in four, a same-shape mul of x by an activation of itself)."""
        name = self._name("se")
        if self.rng.random() < 0.25:
            gate = self.activation(x)
        else:
            c = self.shape[x][1]
            s = self.fc(self.gap(x), int(self.rng.integers(1, 9)))
            s = self.activation(self.fc(s, c))
            gate = self._act(f"{name}.gate", self.shape[s])
            self.ops.append(Op("activation", f"{name}.sigmoid", [s], [gate], {}, "sigmoid"))
        y = self._act(f"{name}.out", self.shape[x])
        self.ops.append(Op("mul", name, [x, gate], [y], {}))
        return y

    def gap(self, x):
        name = self._name("gap")
        n, c = self.shape[x][:2]
        y = self._act(f"{name}.out", (n, c))
        self.ops.append(Op("global_avgpool", name, [x], [y], {}, self.act_choice(0.8)))
        return y

    def fc(self, x, out, bias=True):
        name = self._name("fc")
        n, k = self.shape[x]
        ins = [x, self._const(f"{name}.w", (out, k), np.sqrt(1.0 / k))]
        if bias:
            ins.append(self._const(f"{name}.b", (out,), 0.1))
        y = self._act(f"{name}.out", (n, out))
        self.ops.append(Op("fully_connected", name, ins, [y], {}, self.act_choice(0.7)))
        return y

    # -- the exported CNNs' ops (docs/FORMAT.md codes 11-19) -----------------------------
    def _op(self, kind, ins, shape, attrs=None, act="none"):
        name = self._name(kind)
        y = self._act(f"{name}.out", shape)
        self.ops.append(Op(kind, name, ins, [y], attrs or {}, act))
        return y

    def concat_branches(self, x):
        """2-4 branches side by side: convolutions read by the concat alone (written in place),
        a pool, x itself (copied)."""
        n, c, h, w = self.shape[x]
        parts = []
        for _ in range(int(self.rng.integers(2, 5))):
            r = self.rng.random()
            if r < 0.6:
                parts.append(self.conv(x, int(self.rng.integers(1, 13)), int(self.rng.choice([1, 3])), 1))
            elif r < 0.8:
                parts.append(self._op("maxpool2d", [x], (n, c, h, w), {"kernel": (3, 3), "stride": (1, 1),
                                                                          "pad": (1, 1, 1, 1)}))
            else:
                parts.append(x)
        parts = [p for p in parts if self.shape[p][2:] == (h, w)]
        if len(parts) < 2:
            return x
        return self._op("concat", parts, (n, sum(self.shape[p][1] for p in parts), h, w))

    def split_shuffle(self, x):
        """ShuffleNet's unit: split the channels, a branch on one half, concat, shuffle."""
        n, c, h, w = self.shape[x]
        if c < 2:
            return x
        cut = int(self.rng.integers(1, c))
        left = self._op("slice", [x], (n, cut, h, w), {"channels": (0, cut)})
        right = self._op("slice", [x], (n, c - cut, h, w), {"channels": (cut, c)})
        right = self.conv(right, c - cut, 3, 1, groups=c - cut) if self.rng.random() < 0.7 else right
        y = self._op("concat", [left, right], (n, c, h, w))
        groups = [g for g in (2, 3, 4) if c % g == 0]
        if groups:
            g = int(self.rng.choice(groups))
            y = self._op("channel_shuffle", [y], (n, c, h, w), {"groups": (g,)})
        return y

    def resize(self, x):
        n, c, h, w = self.shape[x]
        sh, sw = int(self.rng.integers(1, 4)), int(self.rng.integers(1, 4))
        return self._op("resize", [x], (n, c, h * sh, w * sw), {"scale": (sh, sw), "mode": (int(self.rng.integers(0, 2)),)},
                        self.act_choice(0.8))

    def conv_transpose(self, x):
        n, c, h, w = self.shape[x]
        k, s = int(self.rng.integers(1, 5)), int(self.rng.integers(1, 4))
        if self.rng.random() < 0.5:
            k = s  # the GEMM path
        p = int(self.rng.integers(0, k)) if self.rng.random() < 0.4 else 0
        op_ = int(self.rng.integers(0, s)) if self.rng.random() < 0.3 else 0
        groups = int(self.rng.choice([g for g in (1, 2) if c % g == 0]))
        cout = groups * int(self.rng.integers(1, 7))
        oh, ow = (h - 1) * s - 2 * p + k + op_, (w - 1) * s - 2 * p + k + op_
        if oh < 1 or ow < 1:
            return x
        name = self._name("deconv")
        ins = [x, self._const(f"{name}.w", (c, cout // groups, k, k), np.sqrt(1.0 / (c * k * k)))]
        if self.rng.random() < 0.8:
            ins.append(self._const(f"{name}.b", (cout,), 0.1))
        attrs = {"kernel": (k, k), "stride": (s, s), "pad": (p, p, p, p), "groups": (groups,)}
        if op_ or self.rng.random() < 0.3:
            attrs["output_pad"] = (op_, op_)
        return self._op("conv_transpose", ins, (n, cout, oh, ow), attrs, self.act_choice())

    def elementwise(self, x):
        """softmax, prelu, pad or clip."""
        n, c, h, w = self.shape[x]
        r = self.rng.random()
        if r < 0.25:
            return self._op("softmax", [x], (n, c, h, w))
        if r < 0.5:
            name = self._name("prelu")
            slopes = self._const(f"{name}.slopes", (c,) if self.rng.random() < 0.6 else (1,), 0.3)
            return self._op("prelu", [x, slopes], (n, c, h, w), act=self.act_choice(0.7))
        if r < 0.75:
            pads = tuple(int(v) for v in self.rng.integers(0, 3, 4))
            return self._op("pad", [x], (n, c, h + pads[0] + pads[2], w + pads[1] + pads[3]), {"pad": pads})
        name = self._name("clip")
        lo = float(self.rng.uniform(-2, 0.5))
        self.tensors[f"{name}.bounds"] = Tensor(f"{name}.bounds", (2,),
                                                np.array([lo, lo + float(self.rng.uniform(-0.5, 3))], np.float32))
        return self._op("clip", [x, f"{name}.bounds"], (n, c, h, w))

    # -- the fusion planner's patterns ---------------------------------------------------
    def attonet_module(self, x):
        """Compression, depthwise 3x3 with a multiplier, mixing and decompression 1x1s, the
        residual add (identity or projection shortcut), ReLU: PwpwLayer with dw (and the next
        module's compression attached when one follows)."""
        c = self.shape[x][1]
        c1 = int(self.rng.integers(1, 9))
        k = int(self.rng.integers(1, 4))
        stride = 2 if self.rng.random() < 0.3 else 1
        c3 = int(self.rng.integers(1, 17))
        cout = c if stride == 1 and self.rng.random() < 0.5 else int(self.rng.integers(1, 25))
        y = self.conv(x, c1, 1, 1, (0, 0, 0, 0), act="relu")
        y = self.conv(y, c1 * k, 3, stride, (1, 1, 1, 1), groups=c1, act="relu")
        y = self.conv(y, c3, 1, act="relu", pad=(0, 0, 0, 0))
        y = self.conv(y, cout, 1, act="none", pad=(0, 0, 0, 0))
        if cout == c and stride == 1:
            shortcut = x
        else:
            shortcut = self.conv(x, cout, 1, stride, (0, 0, 0, 0), act="none")
        if self.shape[shortcut] != self.shape[y]:
            return y
        return self.add(y, shortcut, act="relu")

    def pwpw(self, x):
        """Back-to-back 1x1 convolutions without an add."""
        y = self.conv(x, int(self.rng.integers(1, 17)), 1, pad=(0, 0, 0, 0))
        return self.conv(y, int(self.rng.integers(1, 17)), 1, pad=(0, 0, 0, 0))

    def conv_residual(self, x):
        """A dense KxK convolution whose only reader is an add (ResNet): the add in the GEMM's epilogue."""
        c = self.shape[x][1]
        k = int(self.rng.choice([1, 3, 5]))
        y = self.conv(x, c, k, 1, act="none")
        if self.shape[y] != self.shape[x]:
            return y
        return self.add(y, x) if self.rng.random() < 0.5 else self.add(x, y)

    def dw_project(self, x):
        """Depthwise then 1x1 projection (MobileNet), with a residual when shapes allow."""
        c = self.shape[x][1]
        mult = int(self.rng.integers(1, 3))
        stride = 2 if self.rng.random() < 0.3 else 1
        y = self.conv(x, c * mult, 3, stride, (1, 1, 1, 1), groups=c, act="relu6")
        cout = c if self.rng.random() < 0.5 else int(self.rng.integers(1, 17))
        y = self.conv(y, cout, 1, 1, (0, 0, 0, 0), act="none")
        if self.shape[y] == self.shape[x] and self.rng.random() < 0.6:
            return self.add(y, x, act="none")
        return y

    def inverted_residual(self, x, force_big=False):
        """Expansion 1x1, depthwise, projection: one MbConv step when the expanded tensor is
        large (kMbConvMinExpandedBytes)."""
        n, c, h, w = self.shape[x]
        expand = int(self.rng.integers(2, 7)) * c
        if force_big:
            expand = max(expand, -(-MBCONV_MIN_EXPANDED_FLOATS // (h * w)))
        y = self.conv(x, expand, 1, 1, (0, 0, 0, 0), act="relu6")
        y = self.conv(y, expand, 3, int(self.rng.integers(1, 3)), (1, 1, 1, 1), groups=expand, act="relu6")
        y = self.conv(y, c, 1, 1, (0, 0, 0, 0), act="none")
        if self.shape[y] == self.shape[x]:
            return self.add(y, x, act="none")
        return y


def random_graph(rng, max_hw: int = 24, big: bool = False) -> Graph:
    """A valid graph: a stem (the first convolution, on the caller's NCHW input), a random
    sequence of blocks, and a head (global pool and fully connected layers, or a feature
    map as the output). big=True adds an inverted residual block large enough for MbConv."""
    c = int(rng.integers(1, 5))
    h, w = int(rng.integers(1, max_hw + 1)), int(rng.integers(1, max_hw + 1))
    if big:
        h = w = int(rng.integers(48, 72))
    b = _Builder(rng, (c, h, w))
    x = b.input
    k = int(rng.choice([1, 2, 3, 5, 7]))
    stride = int(rng.choice([1, 1, 2, 2, 3]))
    stem_pad = tuple(int(rng.integers(0, k)) for _ in range(4))
    x = b.conv(x, int(rng.integers(1, 17)), k, stride, stem_pad, act=None, bias=rng.random() < 0.8,
               kw=int(rng.choice([k, 1, 3])), stride_w=int(rng.choice([stride, 1, 2])))
    blocks = [b.attonet_module, b.pwpw, b.conv_residual, b.dw_project, b.inverted_residual,
              lambda t: b.pool(t, "maxpool2d"), lambda t: b.pool(t, "avgpool2d"), b.activation,
              lambda t: b.conv(t, int(rng.integers(1, 17)), int(rng.choice([1, 2, 3])), int(rng.choice([1, 2])),
                               groups=1, dilation=int(rng.choice([1, 1, 2]))),
              lambda t: _grouped(b, t), b.squeeze_excite, b.concat_branches, b.split_shuffle, b.elementwise,
              b.conv_transpose]
    if max(h, w) <= 12:
        blocks.append(b.resize)
    for _ in range(int(rng.integers(0, 6))):
        x = blocks[int(rng.integers(0, len(blocks)))](x)
    if big:
        x = b.inverted_residual(x, force_big=True)
    if rng.random() < 0.25:  # a feature map as the output; a branch read twice keeps tensors alive
        if rng.random() < 0.5:
            x = b.add(x, b.activation(x))
    else:
        x = b.gap(x)
        for _ in range(int(rng.integers(1, 3))):
            x = b.fc(x, int(rng.integers(1, 12)), bias=rng.random() < 0.8)
        if rng.random() < 0.2:
            x = b.activation(x)
    classes = int(np.prod(b.shape[x][1:]))
    labels = tuple(f"c{i}" for i in range(classes)) if rng.random() < 0.5 and classes <= 64 else ()
    md = Metadata(name=f"gen-{int(rng.integers(1 << 30))}", input_shape=(c, h, w),
                  mean=tuple(float(v) for v in rng.random(c)), std=tuple(float(v) + 0.1 for v in rng.random(c)),
                  resize=int(rng.integers(0, 300)), labels=labels,
                  extra={"source": "fuzz/graph_gen.py"} if rng.random() < 0.5 else {})
    return Graph(md, b.tensors, b.ops, [b.input], [x])


def _grouped(b: _Builder, x):
    """A grouped convolution that is not depthwise (the reference conv path)."""
    c = b.shape[x][1]
    for g in (2, 3):
        if c % g == 0 and c > g:
            return b.conv(x, g * int(b.rng.integers(1, 4)), 3, 1, groups=g)
    return x


# -- mutations -------------------------------------------------------------------------------

class _DuplicateAttrs(dict):
    """Attributes as encode() writes them, with one key written twice."""

    def __init__(self, attrs, key):
        super().__init__(attrs)
        self.dup = key

    def __len__(self):
        return super().__len__() + 1

    def items(self):
        yield from super().items()
        yield self.dup, self[self.dup]


def _clone(g: Graph) -> Graph:
    md = g.metadata
    meta = Metadata(md.name, tuple(md.input_shape), tuple(md.mean), tuple(md.std), md.resize, tuple(md.labels),
                    dict(md.extra))
    tensors = {k: Tensor(t.name, tuple(t.shape), t.data, t.dtype, tuple(t.scales), t.zero_point)
               for k, t in g.tensors.items()}
    ops = [Op(o.type, o.name, list(o.inputs), list(o.outputs), dict(o.attrs), o.activation) for o in g.ops]
    return Graph(meta, tensors, ops, list(g.inputs), list(g.outputs))


def _refix(buf: bytearray) -> bytes:
    struct.pack_into("<I", buf, fmt.CRC_OFFSET, 0)
    struct.pack_into("<I", buf, fmt.CRC_OFFSET, fmt.checksum(buf))
    return bytes(buf)


def _string_at(data: bytes, text: str) -> int:
    """Offset of a string record's bytes (after its u32 length) in the graph section."""
    raw = text.encode()
    return data.index(struct.pack("<I", len(raw)) + raw, fmt.HEADER_SIZE) + 4


def _op_record(data: bytes, op: Op) -> int:
    """Offset of an op record (its u16 type code)."""
    return _string_at(data, op.name) - 8


def mutate(rng, graph: Graph):
    """One semantic change to a copy of a valid graph: (what was changed, file bytes)."""
    g = _clone(graph)
    ops = g.ops
    op = ops[int(rng.integers(len(ops)))]
    names = list(g.tensors)
    acts = [n for n, t in g.tensors.items() if not t.is_constant]
    consts = [n for n, t in g.tensors.items() if t.is_constant]
    int8 = [n for n, t in g.tensors.items() if t.dtype == "int8"]
    # int8 graphs (quantized_graph) also get their quantization records changed (kinds 30-33).
    kind = int(rng.integers(0, 34 if int8 else 30))
    what = ""
    raw_patch = None  # (description, function(bytearray)) applied to the encoded bytes
    if kind == 0:  # an attribute's value
        if op.attrs:
            key = list(op.attrs)[int(rng.integers(len(op.attrs)))]
            vals = list(op.attrs[key])
            i = int(rng.integers(len(vals)))
            vals[i] = int(rng.choice([0, 1, 2, 3, vals[i] + 1, max(0, vals[i] - 1), 1 << 20, (1 << 20) + 1, -1,
                                      int(rng.integers(0, 1 << 20))]))
            op.attrs[key] = tuple(vals)
            what = f"{op.name}.{key}[{i}] = {vals[i]}"
    elif kind == 1:  # a required attribute removed
        if op.attrs:
            key = list(op.attrs)[int(rng.integers(len(op.attrs)))]
            del op.attrs[key]
            what = f"{op.name}: no {key}"
    elif kind == 2:  # an attribute the op does not have (or from another op)
        key = str(rng.choice(["kernel", "stride", "pad", "groups", "dilation", "count_include_pad", "channels",
                              "scale", "mode", "output_pad", "bogus", ""]))
        n = next((a[key] for a in OP_ATTRS.values() if key in a), 1)
        if key not in op.attrs:
            op.attrs[key] = tuple(int(v) for v in rng.integers(0, 4, n))
            what = f"{op.name}: extra {key}"
    elif kind == 3:  # an attribute with the wrong number of values
        if op.attrs:
            key = list(op.attrs)[int(rng.integers(len(op.attrs)))]
            n = int(rng.choice([0, 1, 3, 5, 16, 17]))
            op.attrs[key] = tuple([1] * n)
            what = f"{op.name}.{key}: {n} values"
    elif kind == 4:  # a duplicated attribute key
        if op.attrs:
            key = list(op.attrs)[int(rng.integers(len(op.attrs)))]
            op.attrs = _DuplicateAttrs(op.attrs, key)
            what = f"{op.name}: {key} twice"
    elif kind == 5:  # inputs dropped (down to none)
        k = int(rng.integers(0, len(op.inputs) + 1))
        op.inputs = op.inputs[:k]
        what = f"{op.name}: {k} inputs"
    elif kind == 6:  # an extra input
        op.inputs = op.inputs + [str(rng.choice(names))]
        what = f"{op.name}: extra input {op.inputs[-1]}"
    elif kind == 7:  # an input rewired to any tensor (later ones, constants, its own output)
        if op.inputs:
            i = int(rng.integers(len(op.inputs)))
            op.inputs[i] = str(rng.choice(names))
            what = f"{op.name}.inputs[{i}] = {op.inputs[i]}"
    elif kind == 8:  # outputs: none, two, or another op's
        r = rng.random()
        if r < 0.3:
            op.outputs = []
        elif r < 0.6:
            op.outputs = op.outputs + [str(rng.choice(acts))]
        else:
            op.outputs = [str(rng.choice(names))]
        what = f"{op.name}.outputs = {op.outputs}"
    elif kind == 9:  # inputs swapped
        if len(op.inputs) >= 2:
            i, j = rng.choice(len(op.inputs), 2, replace=False)
            op.inputs[i], op.inputs[j] = op.inputs[j], op.inputs[i]
            what = f"{op.name}: inputs {i} and {j} swapped"
    elif kind == 10:  # an activation tensor's shape
        t = g.tensors[str(rng.choice(acts))]
        shape = list(t.shape)
        i = int(rng.integers(len(shape)))
        shape[i] = int(rng.choice([1, shape[i] + 1, max(1, shape[i] - 1), shape[i] * 2, 1 << 24, (1 << 24) + 1]))
        if rng.random() < 0.2:
            shape = shape + [1] if rng.random() < 0.5 else shape[:-1] or [1]
        t.shape = tuple(shape)
        what = f"{t.name}.shape = {t.shape}"
    elif kind == 11:  # a constant's shape (its data follows the new shape)
        t = g.tensors[str(rng.choice(consts))] if consts else None
        if t is not None:
            shape = list(t.shape)
            i = int(rng.integers(len(shape)))
            shape[i] = int(rng.choice([1, shape[i] + 1, max(1, shape[i] - 1)]))
            t.shape = tuple(shape)
            t.data = np.resize(t.data, t.shape).astype(np.float32)
            what = f"{t.name}.shape = {t.shape}"
    elif kind == 12:  # the op's type
        new = str(rng.choice(list(OP_ATTRS)))
        what = f"{op.name}: {op.type} -> {new}"
        op.type = new
    elif kind == 13:  # two ops swapped
        if len(ops) >= 2:
            i, j = rng.choice(len(ops), 2, replace=False)
            ops[i], ops[j] = ops[j], ops[i]
            what = f"ops {i} and {j} swapped"
    elif kind == 14:  # an op removed
        if len(ops) >= 2:
            i = int(rng.integers(len(ops)))
            what = f"op {ops[i].name} removed"
            del ops[i]
    elif kind == 15:  # labels that do not match the class count
        n = int(rng.choice([1, 2, 3, 7, 65, 0]))
        g.metadata.labels = tuple(f"l{i}" for i in range(n))
        what = f"{n} labels"
    elif kind == 16:  # a weight that is not finite
        if consts:
            t = g.tensors[str(rng.choice(consts))]
            data = np.array(t.data, np.float32).reshape(-1)
            data[int(rng.integers(data.size))] = float(rng.choice([np.nan, np.inf, -np.inf]))
            t.data = data.reshape(t.shape)
            what = f"{t.name}: non-finite value"
    elif kind == 17:  # normalisation values
        vals = list(g.metadata.std if rng.random() < 0.5 else g.metadata.mean)
        vals[int(rng.integers(len(vals)))] = float(rng.choice([0.0, -1.0, np.nan, np.inf]))
        if rng.random() < 0.5:
            g.metadata.std = tuple(vals)
        else:
            g.metadata.mean = tuple(vals)
        what = "normalisation"
    elif kind == 18:  # the metadata input shape
        shape = list(g.metadata.input_shape)
        shape[int(rng.integers(3))] += int(rng.choice([1, -1]))
        g.metadata.input_shape = tuple(shape)
        what = f"input shape {shape}"
    elif kind == 19:  # graph input or output rewired, or several outputs (valid or not)
        r = rng.random()
        if r < 0.4:
            g.inputs = [str(rng.choice(names))]
        elif r < 0.65:
            g.outputs = [str(rng.choice(names))]
        elif r < 0.85:  # more outputs: computed ones (valid), or any tensor, or one twice
            extra = [str(rng.choice(acts if rng.random() < 0.7 else names)) for _ in range(int(rng.integers(1, 4)))]
            g.outputs = list(g.outputs) + extra
            if rng.random() < 0.5:
                g.outputs = list(dict.fromkeys(g.outputs))  # distinct: valid when each is an op's output
        else:  # no output, or more than 16
            g.outputs = [] if rng.random() < 0.5 else [str(rng.choice(acts)) for _ in range(17)]
        what = f"graph io {g.inputs} -> {g.outputs}"
    elif kind == 20:  # an activation code
        op.activation = str(rng.choice(ACTIVATIONS + SMOOTH))  # a smooth one on a conv: refused
        what = f"{op.name}.activation = {op.activation}"
    elif kind == 21:  # a NUL byte in a label or an op name
        if rng.random() < 0.5:
            g.metadata.labels = tuple(g.metadata.labels[:-1]) + ("bad\0label",) if g.metadata.labels else ("a\0",)
            what = "NUL in a label"
        else:
            op.name = op.name + "\0x"
            what = f"NUL in op name {op.name!r}"
    elif kind in (22, 23):  # raw fields the Graph cannot express
        field = int(rng.integers(0, 6))
        if field == 0:
            def patch(buf):
                struct.pack_into("<I", buf, 60, int(rng.integers(1, 1 << 32)))
            raw_patch = ("header reserved", patch)
        elif field == 1:
            def patch(buf, op=op):
                buf[_op_record(bytes(buf), op) + 3] = int(rng.integers(1, 256))
            raw_patch = (f"{op.name}: reserved byte", patch)
        elif field == 2:
            def patch(buf, op=op):
                buf[_op_record(bytes(buf), op) + 2] = int(rng.integers(3, 256))
            raw_patch = (f"{op.name}: activation code", patch)
        elif field == 3:
            def patch(buf, op=op):
                struct.pack_into("<H", buf, _op_record(bytes(buf), op), int(rng.choice([0, 8, 9, 0xFFFF])))
            raw_patch = (f"{op.name}: op code", patch)
        elif field == 4:  # a name's bytes made invalid UTF-8 (same length, so the layout holds)
            target = str(rng.choice([op.name, str(rng.choice(names)), g.metadata.name]))
            bad = [b"\xff", b"\xc0", b"\xed", b"\xf5", b"\x80"][int(rng.integers(5))]

            def patch(buf, target=target, bad=bad):
                at = _string_at(bytes(buf), target)
                buf[at + int(rng.integers(len(target.encode())))] = bad[0]
            raw_patch = (f"'{target}': invalid UTF-8", patch)
        else:  # one tensor's name made equal to another's of the same length
            pairs = [(a, c) for a in names for c in names if a != c and len(a) == len(c)]
            if pairs:
                a, c = pairs[int(rng.integers(len(pairs)))]

                def patch(buf, a=a, c=c):
                    at = _string_at(bytes(buf), a)
                    buf[at:at + len(a)] = c.encode()
                raw_patch = (f"tensor '{a}' renamed '{c}'", patch)
    elif kind == 24:  # a duplicated metadata key (written as k2, then renamed k1)
        g.metadata.extra = {"k1": "a", "k2": "b"}

        def patch(buf):
            at = _string_at(bytes(buf), "k2")
            buf[at:at + 2] = b"k1"
        raw_patch = ("metadata key twice", patch)
    elif kind == 25:  # a huge window on some convolution or pool (the padded-input limit)
        windowed = [o for o in ops if "pad" in o.attrs]
        if windowed:
            o = windowed[int(rng.integers(len(windowed)))]
            o.attrs["pad"] = tuple(int(rng.choice([0, 1 << 10, 1 << 20])) for _ in range(4))
            o.attrs["stride"] = tuple(int(rng.choice([1, 1 << 10, 1 << 20])) for _ in range(2))
            what = f"{o.name}: pad {o.attrs['pad']} stride {o.attrs['stride']}"
    elif kind == 26:  # a tensor's kind: activation <-> constant
        t = g.tensors[str(rng.choice(names))]
        t.data = None if t.is_constant else np.zeros(t.shape, np.float32)
        if t.data is not None:
            t.dtype = "float32"
        what = f"{t.name} constant={t.is_constant}"
    elif kind == 30:  # an int8 tensor's scales: values at the edges of the allowed range
        t = g.tensors[str(rng.choice(int8))]
        v = float(rng.choice([0.0, -1.0, np.nan, np.inf, 1e-38, 1e-45, 2.0 ** -40, 2.0 ** 20, 1e30, 1e-12]))
        t.scales = tuple(v if rng.random() < 0.5 else s for s in t.scales) if len(t.scales) > 1 else (v,)
        what = f"{t.name}.scales <- {v}"
    elif kind == 31:  # an int8 tensor's zero point
        t = g.tensors[str(rng.choice(int8))]
        t.zero_point = int(rng.choice([-129, -128, 127, 128, 1, -1, (1 << 31) - 1]))
        what = f"{t.name}.zero_point = {t.zero_point}"
    elif kind == 32:  # an int8 tensor's scale count
        t = g.tensors[str(rng.choice(int8))]
        n = int(rng.choice([0, 1, 2, len(t.scales) + 1, max(0, len(t.scales) - 1)]))
        t.scales = tuple([0.1] * n)
        what = f"{t.name}: {n} scales"
    elif kind == 33:  # a tensor's element type
        t = g.tensors[str(rng.choice(names))]
        new = str(rng.choice(["float32", "int8", "int32"]))
        if t.is_constant:
            t.data = np.asarray(t.data).astype({"float32": np.float32, "int8": np.int8, "int32": np.int32}[new])
        t.dtype, t.scales, t.zero_point = new, ((0.05,) if new == "int8" else ()), 0
        what = f"{t.name}: {new}"
    else:  # a byte of the graph section flipped (the checksum fixed): the layout itself
        data = bytearray(fmt.encode(g))
        g_size = struct.unpack_from("<Q", data, 32)[0]
        for _ in range(int(rng.integers(1, 4))):
            at = fmt.HEADER_SIZE + int(rng.integers(g_size))
            data[at] ^= 1 << int(rng.integers(8))
        return f"bytes flipped in the graph section", _refix(data)
    try:
        data = bytearray(fmt.encode(g))
    except Exception as e:  # the writer cannot express this change (a tensor it does not know)
        return f"{what} (not encodable: {type(e).__name__})", None
    if raw_patch:
        what = raw_patch[0]
        try:
            raw_patch[1](data)
        except ValueError:  # the string to patch is not where expected
            return f"{what} (not applied)", None
    return what or "unchanged", _refix(data)


def quantized_graph(rng, graph: Graph, keep_float=None):
    """graph made int8 (attocore.quantize's transform) on one random calibration tensor, or
    None when the transform refuses it (a graph it cannot quantize). keep_float as
    attocore.quantize's (None: the first convolution stays float32)."""
    from attocore.quantize.api import calibrate
    from attocore.quantize.transform import quantize_graph
    x = rng.standard_normal((1,) + tuple(graph.metadata.input_shape)).astype(np.float32)
    try:
        ranges, chosen, _ = calibrate(graph, [x], keep_float=keep_float, quiet=True)
        q = quantize_graph(graph, ranges, chosen)
        fmt.validate(q)
        return q
    except Exception:
        return None
