"""Per-layer and total parameters and multiply-adds of a graph."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .backends import native


@dataclass
class LayerRow:
    name: str
    op: str
    output_shape: tuple
    params: int
    macs: int


@dataclass
class Summary:
    model: str
    rows: list

    @property
    def params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.rows)

    def __str__(self) -> str:
        lines = [f"{self.model}",
                 f"{'layer':<16} {'op':<16} {'output (CxHxW)':<16} {'params':>10} {'MACs':>14}"]
        for r in self.rows:
            shape = "x".join(str(d) for d in r.output_shape[1:])
            lines.append(f"{r.name:<16} {r.op:<16} {shape:<16} {r.params:>10,} {r.macs:>14,}")
        lines.append(f"{'total':<16} {'':<16} {'':<16} {self.params:>10,} {self.macs:>14,}")
        return "\n".join(lines)


WEIGHTED_OPS = ("conv2d", "fully_connected")


def summarize(graph) -> Summary:
    core = native.core()
    rows = []
    for op in graph.ops:
        out = graph.tensors[op.outputs[0]].shape
        params = sum(int(np.prod(graph.tensors[n].shape)) for n in op.inputs if graph.tensors[n].is_constant)
        weight = graph.tensors[op.inputs[1]].shape if op.type in WEIGHTED_OPS else ()
        macs = core.macs_of(op.type, list(out), list(weight))  # the C++ executor's own count
        rows.append(LayerRow(op.name, op.type, tuple(out), params, macs))
    return Summary(graph.metadata.name, rows)
