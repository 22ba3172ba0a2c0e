"""Kernel plans: which steps of a model run on linked TVM kernels and which on the
hand-written ones, as chosen by measurement (`attocore tune-plan`, tune_plan.py).

The plan file is text, read by attocore-run --plan and attocore.load(plan=):

    attocore-plan 1
    # model: <the model's metadata name>
    # <key>: <value> ...          (target, threads, runs, records, totals)
    <step>\t<native|tvm>\t<hand-written ms>\t<TVM ms or ->\t<TVM layers, comma-separated, or ->

The TVM layers of a step are the first ops of its kernels: `--tvm-layers` takes them as is.
Choosing TVM for a step needs a build that links the kernels (cmake -DATTOCORE_TVM_KERNELS).
This module needs no TVM.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...errors import PlanError
from ...input_file import open_regular_file

HEADER = "attocore-plan 1"


@dataclass
class PlanStep:
    step: str
    choice: str               # 'native' or 'tvm'
    native_ms: float
    tvm_ms: float | None      # None: no set of TVM kernels computes exactly this step
    layers: list              # the TVM layers (first op of each kernel) that would run it

    @property
    def gain_ms(self) -> float:
        return self.native_ms - self.tvm_ms if self.tvm_ms is not None else 0.0


@dataclass
class Plan:
    model: str
    steps: list
    notes: dict = field(default_factory=dict)

    @property
    def tvm_layers(self) -> str:
        """The --tvm-layers selection of the steps chosen for TVM ('' when none)."""
        return ",".join(layer for s in self.steps if s.choice == "tvm" for layer in s.layers)

    def check_model(self, model_name: str, path="the plan") -> None:
        """PlanError unless the plan is for a model named `model_name` (or names none)."""
        if self.model and self.model != model_name:
            raise PlanError(f"{path} is a plan for '{self.model}', the model is '{model_name}'")

    def write(self, path):
        lines = [HEADER, f"# model: {self.model}"] + [f"# {k}: {v}" for k, v in self.notes.items()]
        lines.append("# step\tchoice\tnative_ms\ttvm_ms\ttvm_layers")
        for s in self.steps:
            lines.append("\t".join([s.step, s.choice, f"{s.native_ms:.5f}",
                                    "-" if s.tvm_ms is None else f"{s.tvm_ms:.5f}", ",".join(s.layers) or "-"]))
        Path(path).write_text("\n".join(lines) + "\n")


def read_plan(path) -> Plan:
    """A plan file as written by Plan.write; PlanError on anything else."""
    try:
        with open_regular_file(path, "plan file", PlanError) as f:
            text = f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise PlanError(f"cannot read plan file '{path}': {e}") from e
    model, notes, steps, header = "", {}, [], False
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            key, sep, value = line[1:].strip().partition(": ")
            if sep and key == "model":
                model = value
            elif sep:
                notes[key] = value
            continue
        if not header:
            if line.strip() != HEADER:
                raise PlanError(f"{path}: not an attocore plan (want '{HEADER}' first)")
            header = True
            continue
        f = line.split("\t")
        if len(f) != 5 or f[1] not in ("native", "tvm"):
            raise PlanError(f"{path}:{number}: want step, native|tvm, two times, layers (tab-separated)")
        layers = [] if f[4] == "-" else f[4].split(",")
        if f[1] == "tvm" and not layers:
            raise PlanError(f"{path}:{number}: a tvm step names no layers")
        try:
            steps.append(PlanStep(f[0], f[1], float(f[2]), None if f[3] == "-" else float(f[3]), layers))
        except ValueError as e:
            raise PlanError(f"{path}:{number}: bad time: {e}") from e
    if not header:
        raise PlanError(f"{path}: empty plan file")
    return Plan(model, steps, notes)


def plan_selection(plan_path, model_name: str) -> str:
    """The tvm_layers selection of a plan file for a model named `model_name` (its metadata
    name): 'none' when the plan keeps every step hand-written."""
    plan = read_plan(plan_path)
    plan.check_model(model_name, plan_path)
    return plan.tvm_layers or "none"
