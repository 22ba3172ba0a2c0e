"""Writes the small test fixtures the C++ tests read (tests/data/):

- tiny.atto: a small net using every op (grouped conv with multiplier, stride 2, odd
  channels, maxpool, add, relu6, global pool, FC), seeded weights;
- tiny_io.bin: float32 input (2x3x13x11) followed by the logits the numba backend computes.

Run from the repository root: python scripts/make_fixtures.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from attocore import format as fmt  # noqa: E402
from attocore.graph import Graph, Metadata, Op, Tensor  # noqa: E402
from attocore.numba_backend import NumbaExecutor  # noqa: E402


def tiny_graph(seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    tensors, ops = {}, []

    def act(name, shape):
        tensors[name] = Tensor(name, shape)
        return name

    def const(name, shape, scale=0.3):
        tensors[name] = Tensor(name, shape, (scale * rng.standard_normal(shape)).astype(np.float32))
        return name

    def conv(name, x, cin, cout, k, s, p, g, activation, out_hw):
        y = act(f"{name}.out", (1, cout) + out_hw)
        ops.append(Op("conv2d", name, [x, const(f"{name}.w", (cout, cin // g, k, k)), const(f"{name}.b", (cout,))],
                      [y], {"kernel": (k, k), "stride": (s, s), "pad": (p, p, p, p), "dilation": (1, 1),
                            "groups": (g,)}, activation))
        return y

    x = act("input", (1, 3, 13, 11))
    a = conv("stem", x, 3, 5, 3, 2, 1, 1, "relu", (7, 6))
    b = act("pool.out", (1, 5, 4, 3))
    ops.append(Op("maxpool2d", "pool", [a], [b], {"kernel": (3, 3), "stride": (2, 2), "pad": (1, 1, 1, 1)}))
    c = conv("group", b, 5, 10, 3, 1, 1, 5, "relu6", (4, 3))
    d = conv("mix", c, 10, 5, 1, 1, 0, 1, "none", (4, 3))
    e = act("add.out", (1, 5, 4, 3))
    ops.append(Op("add", "add", [d, b], [e], {}, "relu"))
    f = act("gap.out", (1, 5))
    ops.append(Op("global_avgpool", "gap", [e], [f]))
    y = act("logits", (1, 7))
    ops.append(Op("fully_connected", "fc", [f, const("fc.w", (7, 5)), const("fc.b", (7,))], [y]))
    md = Metadata(name="tiny", input_shape=(3, 13, 11), resize=0, labels=tuple(f"t{i}" for i in range(7)))
    return Graph(md, tensors, ops, ["input"], ["logits"])


def main():
    out_dir = os.path.join(os.path.dirname(__file__), "..", "tests", "data")
    os.makedirs(out_dir, exist_ok=True)
    g = tiny_graph()
    fmt.save(g, os.path.join(out_dir, "tiny.atto"))
    x = np.random.default_rng(1).standard_normal((2, 3, 13, 11)).astype(np.float32)
    y = NumbaExecutor(g).run(x).astype(np.float32)
    with open(os.path.join(out_dir, "tiny_io.bin"), "wb") as f:
        f.write(x.tobytes())
        f.write(y.tobytes())
    print("wrote tests/data/tiny.atto and tests/data/tiny_io.bin")


if __name__ == "__main__":
    main()
