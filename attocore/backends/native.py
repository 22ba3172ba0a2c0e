"""backend="native": the C++ executor and its hand-written kernels, through the pybind11
module attocore._core (python/bindings.cpp)."""
from __future__ import annotations

import os

import numpy as np

from .base import Backend, StepTiming

# load(..., precision=): fp32 everywhere; fp16 on ARMv8.2 cores with FEAT_FP16; bf16 on x86
# CPUs with AVX512-BF16 (README, "Precision").
PRECISIONS = ("fp32", "fp16", "bf16")


def core():
    """The extension module, or a RuntimeError saying how to get it."""
    try:
        from .. import _core
    except ImportError as e:  # a source checkout without a build
        raise RuntimeError("the native extension attocore._core is not built; "
                           "install with 'pip install .' or use backend='numba'") from e
    return _core


def available_isas() -> list:
    """Kernel sets this build can run on this CPU, reference first, the best last."""
    return list(core().isas())


def default_isa(force_reference: bool = False) -> str:
    """The kernel set models loaded now will use (ATTOCORE_ISA may name a lesser one)."""
    return core().isa(force_reference)


def precision_support(precision: str) -> tuple:
    """(available, reason): whether load(..., precision=precision) runs on this build and CPU,
    and why not (the missing feature, as ConfigError would say)."""
    available, reason = core().precision_support(precision)
    return bool(available), str(reason)


def fma_peak_gmacs(seconds: float = 0.2) -> float:
    """One core's measured multiply-add peak, in G multiply-adds/s."""
    return core().fma_peak_gmacs(seconds)


class NativeBackend(Backend):
    kind = "native"
    checks_finite = True

    def __init__(self, model, threads: int = 0, force_reference: bool = False, max_arena_bytes: int = 0,
                 tvm_layers: str | None = None, precision: str = "fp32"):
        """model: a weight file path, or the file's bytes (any buffer). The C++ loader
        validates every field first, so a malformed file gets the same error here as from the
        C API. tvm_layers: the steps TVM kernels linked into this build run ('none', 'all',
        op names; None: $ATTOCORE_TVM_LAYERS), e.g. a plan's (backends/tvm/plan.py).
        precision: "fp32", "fp16" or "bf16" (ConfigError where the CPU lacks FEAT_FP16 /
        AVX512-BF16)."""
        c = core()
        self.compiled = (c.load_file(os.fspath(model), threads, force_reference, max_arena_bytes, tvm_layers, precision)
                         if isinstance(model, (str, os.PathLike))
                         else c.load_bytes(model, threads, force_reference, max_arena_bytes, tvm_layers, precision))

    @property
    def precision(self) -> str:
        return self.compiled.precision

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.compiled.run(x)

    @property
    def isa(self) -> str:
        return self.compiled.isa

    @property
    def threads(self) -> int:
        return self.compiled.threads

    @property
    def macs(self) -> int:
        return self.compiled.macs

    def arena_bytes(self, batch: int = 1) -> int:
        return self.compiled.arena_bytes(batch)

    def memory_bytes(self, batch: int = 1) -> int:
        return self.compiled.memory_bytes(batch)

    def profile(self, x: np.ndarray):
        logits, steps = self.compiled.run_profiled(x)
        return logits, [StepTiming(*s) for s in steps]

    def kernels(self) -> list:
        return list(self.compiled.kernels())


def linked_tvm_kernels() -> list:
    """The graph ops of each TVM kernel linked into this build (cmake -DATTOCORE_TVM_KERNELS)."""
    return list(core().tvm_kernels())
