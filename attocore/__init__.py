"""attocore: a compiled-kernel inference runtime for AttoNets on edge CPUs."""
from .api import Prediction, Result, run
from .errors import AttocoreError, FormatError, GraphError, InputError, ResourceLimitError, UnsupportedOpError
from .model import Model, load
from .summary import Summary


def summary(model) -> Summary:
    """Per-layer and total parameters and multiply-adds of a zoo name, file or Model."""
    from .summary import summarize
    return summarize(load(model, backend="numba").graph if not isinstance(model, Model) else model.graph)


__version__ = "0.1.0"
__all__ = ["run", "load", "summary", "Model", "Result", "Prediction", "Summary", "AttocoreError",
           "FormatError", "GraphError", "InputError", "ResourceLimitError", "UnsupportedOpError"]
