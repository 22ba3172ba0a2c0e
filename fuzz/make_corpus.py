"""Seed corpus for the fuzzers: the four AttoNets shrunk (widths / 8, 32x32 input: the real
graph structure in a few KB each) plus the tiny all-ops test model.

    python fuzz/make_corpus.py OUT_DIR
"""
import os
import shutil
import sys

from attocore import format as fmt
from attocore import zoo

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def main(out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    for name, net in zoo.NETS.items():
        small = zoo.shrunk(net, 8)
        g = zoo.build_graph(small, zoo.seeded_params(small, num_classes=5), num_classes=5, input_hw=32)
        fmt.save(g, os.path.join(out_dir, f"{name}-shrunk.atto"))
    shutil.copy(os.path.join(ROOT, "tests", "data", "tiny.atto"), os.path.join(out_dir, "tiny.atto"))
    print(f"wrote {len(os.listdir(out_dir))} seeds to {out_dir}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus")
