"""`attocore bench --profile --plot out.png`: where a run's time goes, as a picture.

Two panels. The upper one is roofline-style: each step is a bar as wide as its time and as
tall as its achieved G multiply-adds/s, under the measured FMA peak of the cores it ran on, so
a bar's area is its multiply-adds and the white above it is what the step leaves on the table.
The lower one lists the slowest steps by time, with their kernels. matplotlib is an optional
extra (`pip install "attocore[plot]"`)."""
from __future__ import annotations

import io
from dataclasses import dataclass

from .output_file import check_output_path, write_atomically

SLOWEST_SHOWN = 12
ISA_SUFFIXES = {"ref", "avx2", "avx512", "neon", "tvm"}


@dataclass(frozen=True)
class ProfiledStep:
    layer: str
    kernel: str
    macs: int        # multiply-adds of one run (all images of the batch)
    seconds: float   # median over the profiled runs


def kernel_family(kernel: str) -> str:
    """The colour key of a step: what it computes, without ISA and tile suffixes
    ('stem_avx512' -> 'stem', 'conv1x1:gemm_6x8_quads_avx512' -> 'conv1x1', the fused module
    'dwconv_avx512+pwpw+res+next:gemm_6x32_avx512' -> 'dwconv+pwpw'), so steps of one kind share
    a colour whichever kernel set ran them."""
    parts = [strip_isa(p) for p in kernel.split(":")[0].split("+") if p]
    return "+".join(parts[:2]) or kernel


def strip_isa(name: str) -> str:
    words = name.split("_")
    while len(words) > 1 and words[-1] in ISA_SUFFIXES:
        words.pop()
    return "_".join(words)


def plot_profile(steps: list, peak_gmacs: float, title: str, path) -> None:
    """Draw the two panels for `steps` (ProfiledStep, in execution order) and write a PNG to
    `path` atomically. `peak_gmacs` is the FMA ceiling of all the threads the run used."""
    path = check_output_path(path, example="profile.png")
    if not steps:
        raise ValueError("no steps to draw: the profile is empty")
    import matplotlib
    matplotlib.use("Agg")  # no display on a board or in CI; and never a window from a CLI command
    import matplotlib.pyplot as plt

    families = sorted({kernel_family(s.kernel) for s in steps})
    colours = {f: plt.get_cmap("tab10")(i % 10) for i, f in enumerate(families)}
    total_ms = sum(s.seconds for s in steps) * 1e3 or 1e-3  # steps too short for the clock still get axes

    fig, (roof, slow) = plt.subplots(2, 1, figsize=(12, 9), height_ratios=[3, 2], layout="constrained")
    left = 0.0
    for s in steps:
        width = s.seconds * 1e3
        rate = s.macs / s.seconds / 1e9 if s.macs and s.seconds > 0 else 0.0
        roof.bar(left, rate, width=width, align="edge", color=colours[kernel_family(s.kernel)],
                 edgecolor="white", linewidth=0.3)
        left += width
    roof.axhline(peak_gmacs, color="black", linestyle="--", linewidth=1)
    roof.text(total_ms, peak_gmacs, f"measured FMA peak {peak_gmacs:.0f} G/s ", va="bottom", ha="right")
    roof.set_xlim(0, total_ms)
    roof.set_ylim(0, peak_gmacs * 1.12)
    roof.set_xlabel("time into the run (ms): each bar is one step, as wide as its time")
    roof.set_ylabel("G multiply-adds/s")
    roof.set_title(title)
    roof.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=colours[f]) for f in families], labels=families,
                title="step", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")

    slowest = sorted(steps, key=lambda s: s.seconds, reverse=True)[:SLOWEST_SHOWN][::-1]
    slow.barh(range(len(slowest)), [s.seconds * 1e3 for s in slowest],
              color=[colours[kernel_family(s.kernel)] for s in slowest])
    slow.set_yticks(range(len(slowest)), [s.layer for s in slowest], fontsize="small")
    for i, s in enumerate(slowest):
        share = 100 * s.seconds * 1e3 / total_ms if total_ms else 0.0
        slow.text(s.seconds * 1e3, i, f" {s.seconds * 1e3:.3f} ms, {share:.0f}%   {s.kernel}", va="center",
                  fontsize="x-small")
    slow.set_xlabel(f"ms (the {len(slowest)} slowest of {len(steps)} steps; sum of all steps {total_ms:.2f} ms)")
    slow.set_xlim(0, slowest[-1].seconds * 1e3 * 2.2 if slowest else 1)

    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110)
    plt.close(fig)
    write_atomically(path, png.getvalue())
