"""ONNX QDQ import: AttoNets quantized by onnxruntime.quantization.quantize_static (QDQ, per
channel, S8S8 and U8S8) convert to attocore int8 and agree with ONNX Runtime's int8 logits to
within one step of the output scale; malformed QDQ models are refused with attocore's typed
errors naming the tensor, and the command line says so in one line."""
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import attocore
from attocore.errors import FormatError, ResourceLimitError, UnsupportedOpError
from attocore.onnx import check, convert
from attocore.quantize.api import sqnr_db
from attocore.testing.ort_quant import quantize_qdq
from attocore.testing.torch_nets import export_onnx
from conftest import ort_run, randomize_batch_norm

CALIBRATION = 8
INPUTS = 8
# Measured (docs/QUANTIZATION.md): at most a few logits in a thousand one step off, none more.
MAX_FRACTION_BEYOND_ONE_STEP = 0.01
MIN_SQNR_VS_ORT_DB = 35.0


@pytest.fixture(scope="module")
def float_onnx(tmp_path_factory):
    """{net name: its float ONNX file}, exported once for the module."""
    from attocore.torch import attonet
    made = {}

    def make(name):
        if name not in made:
            torch.manual_seed(3)
            path = tmp_path_factory.mktemp(name) / "m.onnx"
            export_onnx(randomize_batch_norm(attonet(name), 4), path)
            made[name] = path
        return made[name]
    return make


def output_scale(path):
    """The scale of the QuantizeLinear in front of the graph output."""
    m = onnx.load(str(path))
    consts = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    dq = next(n for n in m.graph.node if n.output[0] == m.graph.output[0].name)
    assert dq.op_type == "DequantizeLinear"
    return float(consts[dq.input[1]])


@pytest.mark.parametrize("activations", ["s8s8", "u8s8"])
@pytest.mark.parametrize("name", ["attonet-d", "attonet-a"])
def test_qdq_model_agrees_with_onnxruntime_int8(tmp_path, float_onnx, name, activations):
    rng = np.random.default_rng(11)
    fp32 = float_onnx(name)
    calib = [rng.standard_normal((1, 3, 224, 224)).astype(np.float32) for _ in range(CALIBRATION)]
    qdq = quantize_qdq(fp32, tmp_path / "q.onnx", calib, activations)
    g = convert(qdq, tmp_path / "q.atto")
    model = attocore.load(str(tmp_path / "q.atto"))
    assert model.precision == "int8"
    # Every convolution and the classifier run in int8 with onnxruntime's weight scales; the
    # only float-int8 edges are the image's quantize and the logits' dequantize.
    assert all(g.tensors[op.outputs[0]].dtype == "int8" for op in g.ops if op.type in ("conv2d", "fully_connected"))
    assert sorted(op.type for op in g.ops if op.type in ("quantize", "dequantize")) == ["dequantize", "quantize"]

    x = rng.standard_normal((INPUTS, 3, 224, 224)).astype(np.float32)
    ref, got, float_ref = ort_run(qdq, x), model.run(x), ort_run(fp32, x)
    steps = np.abs(got.astype(np.float64) - ref) / output_scale(qdq)
    beyond = int(np.sum(steps > 1 + 1e-3))  # a few ulps of the dequantized difference
    sqnr_ort, sqnr_fp32 = sqnr_db(ref, got), sqnr_db(float_ref, got)
    print(f"\n{name} {activations}: {beyond}/{steps.size} logits more than one output step from ONNX Runtime "
          f"int8 ({int(np.sum(steps > 1e-3))} differ at all), max {steps.max():.2f} steps; SQNR vs ORT int8 "
          f"{sqnr_ort:.1f} dB, vs fp32 {sqnr_fp32:.1f} dB (ORT int8 vs fp32 {sqnr_db(float_ref, ref):.1f} dB)")
    assert beyond <= MAX_FRACTION_BEYOND_ONE_STEP * steps.size
    assert sqnr_ort >= MIN_SQNR_VS_ORT_DB
    assert np.mean(got.argmax(1) == ref.argmax(1)) >= 0.75


# A hand-written QDQ model: x -> Q -> DQ -> Conv(DQ(w), DQ(b)) -> Q -> DQ -> y.
C_IN, C_OUT = 3, 4


def qdq_conv(weight_scale=None, weight=None, weight_zp=None, bias=None, bias_scale=None, out_scale=0.05,
             weight_axis=0, c_in=C_IN):
    rng = np.random.default_rng(0)
    sx = 0.02
    sw = np.full(C_OUT, 0.01, np.float32) if weight_scale is None else np.asarray(weight_scale, np.float32)
    wq = rng.integers(-127, 128, (C_OUT, c_in, 3, 3)).astype(np.int8) if weight is None else weight
    wzp = np.zeros(sw.shape, wq.dtype) if weight_zp is None else weight_zp
    bq = rng.integers(-1000, 1000, C_OUT).astype(np.int32) if bias is None else bias
    sb = (sx * sw.reshape(-1)[:1].repeat(C_OUT) if bias_scale is None else np.asarray(bias_scale)).astype(np.float32)
    inits = [numpy_helper.from_array(np.array(sx, np.float32), "x_scale"),
             numpy_helper.from_array(np.array(3, np.int8), "x_zp"),
             numpy_helper.from_array(wq, "w_q"), numpy_helper.from_array(sw, "w_scale"),
             numpy_helper.from_array(wzp, "w_zp"), numpy_helper.from_array(bq, "b_q"),
             numpy_helper.from_array(sb, "b_scale"), numpy_helper.from_array(np.zeros(C_OUT, np.int32), "b_zp"),
             numpy_helper.from_array(np.array(out_scale, np.float32), "y_scale"),
             numpy_helper.from_array(np.array(-10, np.int8), "y_zp")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zp"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "x_scale", "x_zp"], ["xd"]),
             helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zp"], ["w"], axis=weight_axis),
             helper.make_node("DequantizeLinear", ["b_q", "b_scale", "b_zp"], ["b"], axis=0),
             helper.make_node("Conv", ["xd", "w", "b"], ["conv"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("QuantizeLinear", ["conv", "y_scale", "y_zp"], ["yq"]),
             helper.make_node("DequantizeLinear", ["yq", "y_scale", "y_zp"], ["y"])]
    graph = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c_in, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, C_OUT, 8, 8])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_hand_written_qdq_conv_is_exact(tmp_path):
    """ONNX Runtime runs it as a QLinearConv: attocore's int8 convolution gives its codes."""
    m = qdq_conv()
    onnx.save(m, tmp_path / "m.onnx")
    g = convert(tmp_path / "m.onnx", tmp_path / "m.atto")
    assert [op.type for op in g.ops] == ["quantize", "conv2d", "dequantize"]
    assert check(tmp_path / "m.onnx") == []
    x = np.random.default_rng(1).standard_normal((2, C_IN, 8, 8)).astype(np.float32)
    steps = np.abs(attocore.load(str(tmp_path / "m.atto")).run(x) - ort_run(tmp_path / "m.onnx", x)) / 0.05
    assert steps.max() <= 1 + 1e-3


BAD = {
    "zero weight scale": (dict(weight_scale=[0.01, 0.0, 0.01, 0.01]), FormatError, "w_q", "not finite and positive"),
    "negative weight scale": (dict(weight_scale=[0.01, -0.01, 0.01, 0.01]), FormatError, "w_q", "positive"),
    "NaN weight scale": (dict(weight_scale=[0.01, np.nan, 0.01, 0.01]), FormatError, "w_q", "positive"),
    "scale count": (dict(weight_scale=[0.01, 0.01, 0.01]), FormatError, "w_q", "3 scales for the 4 channels"),
    "uint8 weight": (dict(weight=np.full((C_OUT, C_IN, 3, 3), 7, np.uint8)), UnsupportedOpError, "w_q", "uint8"),
    "weight zero point": (dict(weight_zp=np.array([0, 1, 0, 0], np.int8)), UnsupportedOpError, "w_q", "zero point"),
    "weight code -128": (dict(weight=np.full((C_OUT, C_IN, 3, 3), -128, np.int8)), UnsupportedOpError, "w_q",
                         "-128"),
    "axis": (dict(weight_scale=[0.01, 0.01, 0.01], weight_axis=1), UnsupportedOpError, "w_q", "axis 1"),
    "bias beyond 2^30": (dict(bias=np.full(C_OUT, 2 ** 31 - 1, np.int32)), FormatError, "conv", "2^30"),
    "multiplier": (dict(out_scale=1e-30), FormatError, "conv", "multiplier"),
    "reduction": (dict(c_in=3641), ResourceLimitError, "conv", "32768"),  # 3641 x 3 x 3 = 32769 products
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_qdq_model_is_refused_by_name(tmp_path, case):
    kwargs, error, tensor, words = BAD[case]
    onnx.save(qdq_conv(**kwargs), tmp_path / "m.onnx")
    with pytest.raises(error) as e:
        convert(tmp_path / "m.onnx", tmp_path / "m.atto")
    assert f"'{tensor}" in str(e.value) and words in str(e.value), str(e.value)
    assert not os.path.exists(tmp_path / "m.atto")
    problems = check(tmp_path / "m.onnx")
    assert len(problems) == 1 and tensor in problems[0], problems


def test_qdq_bias_with_another_scale_is_requantized():
    """A bias whose scale is not input x weight scale is re-expressed in those units."""
    bq = np.array([5, -7, 300, 0], np.int32)
    g = convert(qdq_conv(bias=bq, bias_scale=np.full(C_OUT, 0.02 * 0.01 * 3, np.float32)).SerializeToString())
    conv = next(op for op in g.ops if op.type == "conv2d")
    assert np.array_equal(g.tensors[conv.inputs[2]].data, bq * 3)


def test_cli_refuses_a_bad_qdq_model_in_one_line(tmp_path):
    onnx.save(qdq_conv(weight_scale=[0.01, 0.01, 0.01]), tmp_path / "m.onnx")
    r = subprocess.run([sys.executable, "-m", "attocore", "convert", str(tmp_path / "m.onnx"),
                        str(tmp_path / "m.atto")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr + r.stdout
    assert "w_q" in r.stderr and "3 scales" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not os.path.exists(tmp_path / "m.atto")


def test_cli_converts_a_qdq_model_to_int8(tmp_path):
    onnx.save(qdq_conv(), tmp_path / "m.onnx")
    r = subprocess.run([sys.executable, "-m", "attocore", "convert", str(tmp_path / "m.onnx"),
                        str(tmp_path / "m.atto")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "int8" in r.stdout, r.stdout
    assert attocore.load(str(tmp_path / "m.atto")).precision == "int8"
