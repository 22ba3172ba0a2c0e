"""What a Model needs from the code that runs it.

Every backend runs a float32 NCHW batch. The rest are capabilities only some have (the
static arena plan and per-step timings exist only in the native executor): asking a backend
for one it lacks raises NotImplementedError, a RuntimeError, naming the backend.
"""
from __future__ import annotations

import abc
from typing import NamedTuple

import numpy as np


class StepTiming(NamedTuple):
    """One step of a profiled run: a layer (or fused group of layers) and its kernel."""
    layer: str
    kernel: str
    macs: int       # multiply-adds per sample
    seconds: float


class Backend(abc.ABC):
    kind = ""               # what load(backend=...) calls it
    checks_finite = False   # run() itself refuses NaN and infinity (in C, ~10 us; numpy takes ~0.1 ms)

    @abc.abstractmethod
    def run(self, x: np.ndarray) -> np.ndarray:
        """Logits (N, classes) of a contiguous float32 (N, C, H, W) batch of the right shape;
        for a graph with several outputs a tuple of arrays, in graph output order."""

    @property
    def isa(self) -> str:
        """The kernel set in use ('avx512', 'avx2', 'neon', 'ref'); other backends: their name."""
        return self.kind

    @property
    def threads(self) -> int:
        """Threads a run uses."""
        raise self.lacks("threads")

    @property
    def macs(self) -> int:
        """Multiply-adds of one sample."""
        raise self.lacks("macs")

    def arena_bytes(self, batch: int = 1) -> int:
        """Peak activation memory of the static plan for this batch size."""
        raise self.lacks("arena_bytes()")

    def memory_bytes(self, batch: int = 1) -> int:
        """Everything one run at this batch size allocates (arena and every thread's scratch)."""
        raise self.lacks("memory_bytes()")

    def profile(self, x: np.ndarray) -> tuple[np.ndarray, list[StepTiming]]:
        """Run once and time each step."""
        raise self.lacks("profile()")

    def kernels(self) -> list[tuple[str, str]]:
        """(step, kernel) of every step of the plan, in order."""
        raise self.lacks("kernels()")

    def lacks(self, what: str) -> NotImplementedError:
        return NotImplementedError(f"the '{self.kind}' backend has no {what} (the native backend has)")
