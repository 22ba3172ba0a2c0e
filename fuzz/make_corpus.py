"""Seed corpus for the fuzzers: the four AttoNets shrunk (widths / 8, 32x32 input: the real
graph structure in a few KB each) in float32 and int8 (format v2: quantization records,
quantize / dequantize ops), the tiny all-ops test model, and with --generated N as
many valid random graphs of every op and fusion pattern (fuzz/graph_gen.py) of at most 64 KiB.

    python fuzz/make_corpus.py OUT_DIR [--generated N]
"""
import argparse
import os
import shutil
import sys

import numpy as np

from attocore import format as fmt
from attocore import zoo

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def int8_graph(g):
    """g quantized on 2 seeded random tensors (every op int8 but the first convolution)."""
    from attocore.quantize.api import calibrate
    from attocore.quantize.transform import quantize_graph
    xs = [np.random.default_rng(i).standard_normal((1,) + tuple(g.metadata.input_shape)).astype(np.float32)
          for i in range(2)]
    ranges, chosen, _ = calibrate(g, xs, quiet=True)
    return quantize_graph(g, ranges, chosen)


def main(out_dir: str, generated: int = 0) -> None:
    os.makedirs(out_dir, exist_ok=True)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from graph_gen import random_graph
    seed = 0
    while generated > 0:
        data = fmt.encode(random_graph(np.random.default_rng(1_000_000 + seed)))
        seed += 1
        if len(data) <= 65536:
            with open(os.path.join(out_dir, f"generated-{seed}.atto"), "wb") as f:
                f.write(data)
            generated -= 1
    for name, net in zoo.NETS.items():
        small = zoo.shrunk(net, 8)
        g = zoo.build_graph(small, zoo.seeded_params(small, num_classes=5), num_classes=5, input_hw=32)
        fmt.save(g, os.path.join(out_dir, f"{name}-shrunk.atto"))
        fmt.save(int8_graph(g), os.path.join(out_dir, f"{name}-shrunk-int8.atto"))
    shutil.copy(os.path.join(ROOT, "tests", "data", "tiny.atto"), os.path.join(out_dir, "tiny.atto"))
    print(f"wrote {len(os.listdir(out_dir))} seeds to {out_dir}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("out_dir", nargs="?", default="fuzz/corpus")
    p.add_argument("--generated", type=int, default=0, help="valid random graphs to add")
    a = p.parse_args()
    main(a.out_dir, a.generated)
