"""The code that runs a model, behind one interface (base.Backend):

    native   the C++ executor and its hand-written kernels (attocore._core), the default
    numba    an independent NCHW implementation in numba: the test oracle, and a fallback
    tvm/     Apache TVM: a Relax module compiled for the host or a board, tuning, export
    capi     the C API (libattocore.so) through cffi, for a board with no compiler

attocore.load(..., backend=NAME) picks one; Model reaches it only through Backend.
"""
from .base import Backend, StepTiming

__all__ = ["Backend", "StepTiming"]
