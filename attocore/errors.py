"""Exception types. The native module raises these same classes (see python/bindings.cpp)."""


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
    set that is not available here (the message lists those that are)."""


class InputError(AttocoreError, ValueError):
    """An input given to run() has the wrong shape, dtype or content."""


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
