"""ONNX Runtime's static QDQ quantization as the benchmarks and tests use it: per channel,
int8 weights, activations QInt8 (S8S8) or QUInt8 (U8S8), after onnxruntime's own
pre-processing (shape inference and graph optimization)."""
from __future__ import annotations

import os

ACTIVATIONS = ("s8s8", "u8s8")


def quantize_qdq(onnx_path, out_path, calibration, activations: str = "s8s8", workdir=None) -> str:
    """Write onnx_path quantized by onnxruntime.quantization.quantize_static to out_path;
    calibration: float32 NCHW arrays fed to the graph input one by one."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if activations not in ACTIVATIONS:
        raise ValueError(f"activations is one of {ACTIVATIONS}, not {activations!r}")

    class Reader(CalibrationDataReader):
        def __init__(self, name):
            self.items = iter([{name: x} for x in calibration])

        def get_next(self):
            return next(self.items, None)

    pre = os.path.join(workdir or os.path.dirname(os.fspath(out_path)) or ".", "pre.onnx")
    quant_pre_process(os.fspath(onnx_path), pre)
    name = onnx.load(pre).graph.input[0].name
    quantize_static(pre, os.fspath(out_path), Reader(name), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8 if activations == "u8s8" else QuantType.QInt8,
                    weight_type=QuantType.QInt8)
    return os.fspath(out_path)
