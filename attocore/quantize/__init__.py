"""int8 quantization: calibration, the int8 graph, the numpy integer reference, comparison
(docs/QUANTIZATION.md)."""
from .api import Comparison, calibrate, compare, quantize, sqnr_db

__all__ = ["quantize", "compare", "calibrate", "sqnr_db", "Comparison"]
