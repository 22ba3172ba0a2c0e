"""`attocore tune-plan`: per-step choice between the hand-written kernels and the tuned TVM
kernels, by measurement.

It exports the TVM layer kernels for the target (tuned with the records that apply, see
records.resolve_records), builds attocore-run with them, profiles the model once with every
step on its hand-written kernel and once with every convolution on its TVM kernel
(`attocore-run --profile`, same harness, same thread pool), and writes a plan file (plan.py)
naming the faster kernel of each native step, with both times.

A native step (e.g. `m1.group..m1.add+m2.compress`: a fused chain of convolutions and
the residual add) can go to TVM only as a whole: its TVM time is the sum of the TVM kernels
that together compute exactly its ops. TVM must win by `min_gain` (default 2%) to be chosen:
timing noise should not move a step off the hand-written kernel. The plan is then timed as
a whole and the three totals (hand-written, all TVM, plan) are noted in the file.
"""
from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import numpy as np

from ... import format as fmt
from ...errors import PlanError
from .export import export
from .plan import Plan, PlanStep
from .records import model_slug
from .target import target_label

CROSS_TOOLCHAINS = {"aarch64": "aarch64-linux-gnu.cmake", "rpi4": "aarch64-linux-gnu.cmake",
                    "armv7": "armv7-linux-gnueabihf.cmake"}


def step_ops(graph, step: str) -> list:
    """The graph ops a native step computes, from its name: parts joined by '+', each an op
    or a fused chain 'first..last' (consecutive in the graph's op order)."""
    index = {op.name: i for i, op in enumerate(graph.ops)}
    ops = []
    for part in step.split("+"):
        first, _, last = part.partition("..")
        if first not in index or (last and last not in index):
            raise PlanError(f"step '{step}': no op '{first if first not in index else last}' in the model")
        ops += [op.name for op in graph.ops[index[first]:index[last or first] + 1]]
    return ops


def parse_profile(stdout: str) -> list:
    """(step, kernel, ms) from attocore-run --profile."""
    rows = []
    for line in stdout.splitlines():
        if line.startswith("step\t"):
            _, name, kernel, ms = line.split("\t")
            rows.append((name, kernel, float(ms)))
    if not rows:
        raise PlanError(f"attocore-run printed no profile:\n{stdout[-2000:]}")
    return rows


def choose(graph, native: list, tvm: list, kernels: list, min_gain: float = 0.02) -> list:
    """PlanSteps for the native profile's steps. kernels: the ops of each linked TVM kernel
    (kernels.json); tvm: the profile with every kernel in use (TVM steps are named by their
    ops joined with '+')."""
    tvm_ms = {name: ms for name, kernel, ms in tvm if kernel.startswith("tvm:")}
    by_first = {k[0]: k for k in kernels}
    steps = []
    for name, _, ms in native:
        ops = step_ops(graph, name)
        mine = [k for k in kernels if set(k) <= set(ops)]
        covered = sorted(op for k in mine for op in k)
        if not mine or covered != sorted(ops) or any("+".join(k) not in tvm_ms for k in mine):
            steps.append(PlanStep(name, "native", ms, None, []))
            continue
        t = sum(tvm_ms["+".join(k)] for k in mine)
        layers = [k[0] for k in mine if k[0] in by_first]
        steps.append(PlanStep(name, "tvm" if t < ms * (1 - min_gain) else "native", ms, t, layers))
    return steps


def source_tree() -> Path | None:
    """The attocore checkout to build attocore-run from: the one this package runs from, else
    the current directory, if it is one (CMakeLists.txt and csrc/)."""
    for root in (Path(__file__).resolve().parents[3], Path.cwd()):
        if (root / "CMakeLists.txt").is_file() and (root / "csrc").is_dir():
            return root
    return None


def build_runner(source: Path, kernels_dir: Path, build_dir: Path, target_name: str, log=print) -> Path:
    """attocore-run with the exported TVM kernels linked in (cross-built for a board)."""
    defines = ["-DCMAKE_BUILD_TYPE=Release", "-DATTOCORE_BUILD_TESTS=OFF", "-DATTOCORE_BUILD_PYTHON=OFF",
               f"-DATTOCORE_TVM_KERNELS={kernels_dir}"]
    if target_name in CROSS_TOOLCHAINS:
        defines.append(f"-DCMAKE_TOOLCHAIN_FILE={source / 'cmake' / CROSS_TOOLCHAINS[target_name]}")
    log(f"building attocore-run with the TVM kernels in {build_dir}")
    for cmd in (["cmake", "-S", str(source), "-B", str(build_dir), *defines],
                ["cmake", "--build", str(build_dir), "-j", "2", "--target", "attocore-run"]):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return build_dir / "attocore-run"


def _profile(prefix, runner, model_path, input_path, threads, runs, selection, timeout=1800) -> list:
    cmd = prefix + [str(runner), str(model_path), str(input_path), "--threads", str(threads), "--profile", str(runs),
                    "--tvm-layers", selection or "none"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return parse_profile(proc.stdout)


def tune_plan(model, target_name: str = "host", threads: int = 1, runs: int = 20, work_dir="tune-plan",
              output=None, records_root=None, runner=None, kernels_dir=None, source=None, exec_prefix="",
              min_gain: float = 0.02, log=print) -> tuple:
    """Measure and write the plan; returns (Plan, path). `runner` + `kernels_dir`: an
    attocore-run already built with the kernels exported there (skips export and build).
    exec_prefix runs the runner elsewhere, e.g. 'qemu-aarch64 -L /usr/aarch64-linux-gnu'."""
    from ...model import read_graph
    graph = read_graph(model)
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    label = target_label(target_name)
    if runner is None:
        src = Path(source) if source else source_tree()
        if src is None:
            raise PlanError("tune-plan builds attocore-run with the TVM kernels: give the attocore source tree "
                            "(--source DIR), or a runner built with them (--runner PATH --kernels DIR)")
        kernels_dir = work / "export"
        export(graph, kernels_dir, target_name=target_name, records_root=records_root, whole_network=False, log=log)
        runner = build_runner(src, kernels_dir.resolve(), (work / "build").resolve(), target_name, log=log)
    elif kernels_dir is None:
        raise PlanError("--runner needs --kernels: the directory its TVM kernels were exported to")
    manifest = json.loads((Path(kernels_dir) / "kernels.json").read_text())
    kernels = [k["ops"] for k in manifest["kernels"]]

    model_path = work / f"{model_slug(graph)}.atto"
    fmt.save(graph, model_path)
    c, h, w = graph.metadata.input_shape
    input_path = work / "input.f32"
    np.random.default_rng(0).standard_normal((1, c, h, w)).astype(np.float32).tofile(input_path)
    prefix = shlex.split(exec_prefix) if exec_prefix else []

    log(f"tune-plan {model_slug(graph)} on {label}: {runs} runs per profile, {threads} thread(s)")
    native = _profile(prefix, runner, model_path, input_path, threads, runs, "none")
    tvm = _profile(prefix, runner, model_path, input_path, threads, runs, "all")
    steps = choose(graph, native, tvm, kernels, min_gain)
    plan = Plan(graph.metadata.name, steps, {
        "target": label, "threads": threads, "runs": runs, "min_gain": min_gain,
        "records": manifest.get("records") or "none (untuned TVM kernels)"})
    chosen = _profile(prefix, runner, model_path, input_path, threads, runs, plan.tvm_layers)
    plan.notes.update({
        "hand-written total ms": f"{sum(r[2] for r in native):.4f}",
        "all-TVM total ms": f"{sum(r[2] for r in tvm):.4f}",
        "plan total ms": f"{sum(r[2] for r in chosen):.4f}",
        "tvm steps": sum(s.choice == "tvm" for s in steps)})
    path = Path(output) if output else work / f"{model_slug(graph)}.{label}.plan"
    plan.write(path)
    return plan, path


def print_plan(plan: Plan, log=print):
    wn = max(len("step"), max(len(s.step) for s in plan.steps))
    log(f"{'step':<{wn}} {'choice':<6} {'hand ms':>9} {'TVM ms':>9} {'TVM gain':>9}")
    for s in plan.steps:
        tvm = "-" if s.tvm_ms is None else f"{s.tvm_ms:.4f}"
        gain = "" if s.tvm_ms is None else f"{100 * s.gain_ms / s.native_ms:+.0f}%"
        log(f"{s.step:<{wn}} {s.choice:<6} {s.native_ms:>9.4f} {tvm:>9} {gain:>9}")
    for k in ("hand-written total ms", "all-TVM total ms", "plan total ms"):
        if k in plan.notes:
            log(f"{k}: {plan.notes[k]}")
