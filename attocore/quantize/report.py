"""Per-layer accuracy of an int8 model against its float original: the SQNR of each int8
tensor (dequantized) against the float tensor it stands for, errors of earlier layers
included, as a table and a plot."""
from __future__ import annotations

import numpy as np

from . import evaluate
from .api import sqnr_db


def layer_sqnr(float_graph, int8_graph, inputs: list) -> list:
    """[(op name, op type, SQNR dB)] in graph order, for every op whose output is int8, over
    `inputs` (float32 NCHW batches)."""
    names = [(op.name, op.type, op.outputs[0]) for op in int8_graph.ops
             if int8_graph.tensors[op.outputs[0]].dtype == "int8" and op.type != "quantize"]
    ref, got = {n: [] for _, _, n in names}, {n: [] for _, _, n in names}
    for x in inputs:
        fenv = evaluate.evaluate(float_graph, x)
        qenv = evaluate.evaluate(int8_graph, x)
        for _, _, n in names:
            t = int8_graph.tensors[n]
            ref[n].append(fenv[n].ravel())
            got[n].append(((qenv[n].astype(np.float32) - t.zero_point) * np.float32(t.scales[0])).ravel())
    return [(op, kind, sqnr_db(np.concatenate(ref[n]), np.concatenate(got[n]))) for op, kind, n in names]


def format_table(rows: list, output_sqnr: float | None = None) -> str:
    width = max([len(r[0]) for r in rows] + [10])
    lines = [f"{'layer':<{width}}  {'op':<15} {'SQNR dB':>8}"]
    lines += [f"{name:<{width}}  {kind:<15} {db:8.1f}" for name, kind, db in rows]
    if output_sqnr is not None:
        lines.append(f"{'logits':<{width}}  {'(output)':<15} {output_sqnr:8.1f}")
    return "\n".join(lines)


def plot(rows: list, path: str, title: str) -> None:
    """A bar per layer (its SQNR), coloured by op type, with the 35 dB line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = sorted({k for _, k, _ in rows})
    colours = {k: plt.cm.tab10(i % 10) for i, k in enumerate(kinds)}
    fig, ax = plt.subplots(figsize=(max(8, 0.12 * len(rows) + 3), 4.5))
    values = [min(db, 80.0) for _, _, db in rows]
    ax.bar(range(len(rows)), values, color=[colours[k] for _, k, _ in rows])
    ax.axhline(35, color="black", linestyle="--", linewidth=1, label="35 dB")
    ax.set_xlabel("layer (graph order)")
    ax.set_ylabel("SQNR against float32 (dB)")
    ax.set_title(title)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[k]) for k in kinds]
    ax.legend(handles + [ax.lines[0]], kinds + ["35 dB"], loc="lower left", fontsize=8)
    ax.set_xlim(-1, len(rows))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
