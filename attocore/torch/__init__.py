"""attocore.torch, the documented name of the PyTorch side (attocore.importers.torch).

A package, not a module file, so that attocore/torch.py stays free: git pairs the old file
with its new home by rename detection only if the old path is gone.
"""
from ..importers.torch import (AttoModule, AttoNet, ConvBN, Validation, attonet, export, fold_batch_norm,
                               load_state_dict, to_graph, validate)

__all__ = ["AttoModule", "AttoNet", "ConvBN", "Validation", "attonet", "export", "fold_batch_norm",
           "load_state_dict", "to_graph", "validate"]
