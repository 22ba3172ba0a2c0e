"""attocore: a compiled-kernel inference runtime for AttoNets on edge CPUs."""
from .api import OutputsResult, Prediction, Result, run
from .errors import (AttocoreError, ConfigError, FormatError, GraphError, InputError, ResourceLimitError,
                     UnsupportedOpError)
from .graph_summary import Summary, summarize
from .model import Model, available_isas, load, read_graph
from .quantize import compare, quantize


def summary(model) -> Summary:
    """Per-layer and total parameters and multiply-adds of a zoo name, file or Model."""
    return summarize(read_graph(model))


def __getattr__(name):
    # __version__ is read on first use: importlib.metadata takes ~40 ms to import, a sixth of
    # `import attocore`.
    if name == "__version__":
        from .version import package_version
        globals()["__version__"] = value = package_version()
        return value
    raise AttributeError(f"module 'attocore' has no attribute '{name}'")


__all__ = ["run", "load", "quantize", "compare", "summary", "available_isas", "Model", "Result", "OutputsResult", "Prediction", "Summary", "AttocoreError",
           "ConfigError", "FormatError", "GraphError", "InputError", "ResourceLimitError", "UnsupportedOpError"]
