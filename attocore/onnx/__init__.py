"""attocore.onnx, the documented name of the ONNX importer (attocore.importers.onnx).

A package, not a module file, so that attocore/onnx.py stays free: git pairs the old file
with its new home by rename detection only if the old path is gone.
"""
from ..importers.onnx import OPSETS, SUPPORTED, check, convert

__all__ = ["OPSETS", "SUPPORTED", "check", "convert"]
