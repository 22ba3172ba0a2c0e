"""Exception types, and the one table from status codes to them that the native module
(python/bindings.cpp) and the cffi binding (attocore.backends.capi) both raise through."""
from __future__ import annotations

import enum


class AttocoreError(Exception):
    """Base of every error attocore raises on purpose."""


class FormatError(AttocoreError, ValueError):
    """A weight file is malformed: bad magic, version, checksum, offsets or sizes."""


class GraphError(FormatError):
    """The graph in a file (or built in memory) is inconsistent: shapes, attributes, order."""


class UnsupportedOpError(GraphError):
    """The graph uses an operator this runtime cannot execute; the message names it."""


class ResourceLimitError(FormatError):
    """A declared size exceeds a limit: a tensor, count or string in a file, or the arena a
    batch would need (limits in docs/FORMAT.md; the arena limit is a load() option)."""


class ConfigError(AttocoreError, ValueError):
    """A setting asks for what this build or CPU cannot do: ATTOCORE_ISA naming an instruction
    set that is not available here (the message lists those that are), or load(...,
    precision="fp16") on a CPU without ARMv8.2 FEAT_FP16, or precision="bf16" on one without
    AVX512-BF16 (the message names it)."""


class InputError(AttocoreError, ValueError):
    """An input given to run() has the wrong shape, dtype or content."""


class PlanError(AttocoreError, ValueError):
    """A kernel plan file (attocore tune-plan) is malformed, or is for another model."""


class RpcFarmError(AttocoreError, RuntimeError):
    """A local RPC farm (tracker and rpc_servers) did not come up; the message has their logs."""


class Status(enum.IntEnum):
    """The C API's attocore_status codes (csrc/include/attocore/attocore.h), which are also the
    C++ core's ErrorCode values (static_asserts in csrc/util/error.h tie the two;
    tests/test_package.py checks these numbers against the header)."""
    OK = 0
    IO = 1
    FORMAT = 2
    GRAPH = 3
    UNSUPPORTED = 4
    INPUT = 5
    RESOURCE = 6
    INTERNAL = 7
    ARGUMENT = 8  # the C API's own: a null pointer or invalid argument (the core never raises it)
    CONFIG = 9


# The exception each failing status raises in Python (README, "Errors").
ERROR_CLASSES = {
    Status.IO: OSError,
    Status.FORMAT: FormatError,
    Status.GRAPH: GraphError,
    Status.UNSUPPORTED: UnsupportedOpError,
    Status.INPUT: InputError,
    Status.RESOURCE: ResourceLimitError,
    Status.INTERNAL: AttocoreError,
    Status.ARGUMENT: ValueError,
    Status.CONFIG: ConfigError,
}


def error_class(status: int) -> type:
    """The exception class for a failing status code; AttocoreError for a code this table lacks
    (a newer library than this package)."""
    return ERROR_CLASSES.get(status, AttocoreError)


MAX_THREADS = 256  # csrc/exec/executor.h Session::kMaxThreads, ATTOCORE_MAX_THREADS in the C API


def check_threads(threads) -> int:
    """A thread count as every front end takes it: an int in [0, MAX_THREADS], 0 = all cores.
    TypeError / ValueError otherwise, with a short message (never the call's other arguments)."""
    if isinstance(threads, bool) or not hasattr(type(threads), "__index__"):
        raise TypeError(f"threads must be an int, not {type(threads).__name__}")
    n = threads.__index__()
    if not 0 <= n <= MAX_THREADS:
        raise ValueError(f"threads must be in [0, {MAX_THREADS}] (0: all cores), got {n if abs(n) < 1e12 else 'more'}")
    return n
