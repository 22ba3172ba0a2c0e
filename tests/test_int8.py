"""int8 (docs/QUANTIZATION.md): the int8 weight file in both readers, the C++ int8 path
against the numpy integer reference bit for bit (every kernel set this CPU runs, 1 and 2
threads), accuracy against float32 on the four nets, attocore.quantize / compare and the
CLI, and malformed int8 files refused with the same error class by both readers."""
import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

import attocore
from attocore import format as fmt
from attocore import zoo
from attocore.errors import FormatError, GraphError, ResourceLimitError, UnsupportedOpError
from attocore.quantize import evaluate, sqnr_db
from attocore.quantize.calibrate import METHODS

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fuzz"))
from structured_fuzz import reader_verdicts, same_verdict  # noqa: E402

NETS = ("attonet-a", "attonet-b", "attonet-c", "attonet-d")


def inputs(n, hw=224, seed=0):
    return [np.random.default_rng(seed + i).standard_normal((1, 3, hw, hw)).astype(np.float32) for i in range(n)]


@pytest.fixture(scope="module")
def small_int8():
    """AttoNet-A shrunk to a 64x64 input, quantized on 4 inputs, every op int8 (the first
    convolution too, so no float op precedes a quantize: the numpy reference then gives the
    C++ result bit for bit): (float graph, int8 bytes)."""
    g = zoo.seeded_graph("attonet-a", input_hw=64)
    return g, _int8_bytes(g, inputs(4, 64), keep_float=())


def _int8_bytes(graph, calibration, **kw):
    from attocore.quantize.api import calibrate
    from attocore.quantize.transform import quantize_graph
    ranges, chosen, _ = calibrate(graph, calibration, quiet=True, **kw)
    q = quantize_graph(graph, ranges, chosen)
    fmt.validate(q)
    return fmt.encode(q)


def test_int8_file_is_version_2_and_float_files_stay_version_1(small_int8):
    g, data = small_int8
    assert int.from_bytes(data[8:12], "little") == 2
    assert int.from_bytes(fmt.encode(g)[8:12], "little") == 1
    q = fmt.decode(data)
    dtypes = {t.dtype for t in q.tensors.values()}
    assert dtypes == {"float32", "int8", "int32"}
    w = next(t for t in q.tensors.values() if t.dtype == "int8" and t.is_constant)
    assert len(w.scales) == w.shape[0] and w.zero_point == 0 and np.abs(w.data.astype(int)).max() <= 127
    # The C++ loader reads it too, and the round trip is exact.
    assert fmt.encode(q) == bytes(data)
    assert attocore.load(bytes(data)).precision == "int8"
    assert attocore.load(fmt.encode(g)).precision == "fp32"


def test_int8_file_is_at_most_0_3x_the_float_file(small_int8):
    g, data = small_int8
    assert len(data) <= 0.3 * len(fmt.encode(g)), (len(data), len(fmt.encode(g)))


@pytest.mark.parametrize("isa", ["ref"] + [i for i in ("avx2", "avx512", "neon")])
def test_native_int8_equals_the_numpy_integer_reference(small_int8, isa, monkeypatch):
    if isa not in attocore.available_isas():
        pytest.skip(f"this CPU or build has no {isa} kernels (has {attocore.available_isas()})")
    _, data = small_int8
    monkeypatch.setenv("ATTOCORE_ISA", isa)
    x = np.concatenate(inputs(3, 64, seed=50))
    want = evaluate.run(fmt.decode(data), x)
    for threads in (1, 2):
        got = attocore.load(bytes(data), threads=threads).run(x)
        assert np.array_equal(got, want), (isa, threads, np.abs(got - want).max())


def test_int8_modules_run_as_fused_steps(small_int8):
    """Each module after its compression is one int8 step (steps/qmodule_tail.h), as in fp32;
    its bits are the unfused ops' (the test above compares it with the numpy reference, and
    the reference kernel set runs unfused)."""
    _, data = small_int8
    if attocore.available_isas() == ["ref"]:
        pytest.skip("only the reference kernel set runs here, and it does not fuse")
    kernels = dict(attocore.load(bytes(data), threads=1).executor.kernels())
    fused = {name: k for name, k in kernels.items() if ".." in name}
    assert "m2.group..m2.add+m3.compress" in fused and "+pwpw+res+next:" in fused["m2.group..m2.add+m3.compress"]
    assert any("+pwpw+proj" in k for k in fused.values()), fused
    assert "m2.mix" not in kernels and "m2.add" not in kernels


def test_force_reference_int8_equals_the_numpy_reference(small_int8):
    _, data = small_int8
    x = np.concatenate(inputs(2, 64, seed=70))
    got = attocore.load(bytes(data), force_reference=True, threads=2).run(x)
    assert np.array_equal(got, evaluate.run(fmt.decode(data), x))


@pytest.mark.parametrize("net", NETS)
def test_nets_int8_against_float32(net, tmp_path):
    """32 random calibration tensors (the issue's setting); held-out inputs; full size; the
    default method with bias correction. The issue's target is 35 dB; measured on Ice Lake:
    39-41 dB (33-35 without bias correction)."""
    out = tmp_path / "q.atto"
    m8 = attocore.quantize(net, inputs(32), out=str(out), quiet=True)
    x = np.concatenate(inputs(4, seed=1000))
    yf = attocore.load(net).run(x)
    y8 = m8.run(x)
    assert sqnr_db(yf, y8) >= 35, sqnr_db(yf, y8)
    # The first convolution is float32 here, and numpy's float32 sums round differently from
    # the stem kernel's: a quantize may land on the neighbouring code now and then.
    assert sqnr_db(evaluate.run(fmt.load(str(out)), x), y8) >= 45
    # Each output channel costs 8 bytes beyond its weights (scale, int32 bias): the small nets
    # C and D, with few weights per channel, land just past 0.3x.
    limit = 0.3 if net in ("attonet-a", "attonet-b") else 0.32
    assert os.path.getsize(out) <= limit * len(fmt.encode(zoo.seeded_graph(net)))
    arena8, arenaf = m8.arena_bytes(), attocore.load(net).arena_bytes()
    assert arena8 <= 0.5 * arenaf, (arena8, arenaf)


def test_bias_correction_recovers_the_mean_rounding_error():
    """Each int8 layer's bias absorbs its mean weight-rounding error (bias_correction.py): on a
    small AttoNet-A (96x96, every op int8) the logits come closer to fp32 (measured: +4.8 dB;
    +5-8 dB at full size: test_nets_int8_against_float32), the corrected biases
    stay within the loader's limit, a layer without a bias gets one, and the C++ result still
    equals the numpy integer reference bit for bit."""
    from attocore.quantize.api import calibrate
    from attocore.quantize.bias_correction import ChannelMeans, correct_biases
    from attocore.quantize.transform import quantize_graph
    g = zoo.seeded_graph("attonet-a", input_hw=96)
    # One layer without a bias: the correction must add an int32 one.
    m1 = next(op for op in g.ops if op.name == "m1.mix")
    del g.tensors[m1.inputs.pop(2)]
    means = ChannelMeans()
    ranges, chosen, _ = calibrate(g, inputs(8, 96), keep_float=(), quiet=True, means=means)
    plain = quantize_graph(g, ranges, chosen)
    corrected = correct_biases(g, plain, means)
    fmt.validate(corrected)
    assert len(next(op for op in corrected.ops if op.name == "m1.mix").inputs) == 3
    x = np.concatenate(inputs(3, 96, seed=90))
    yf = evaluate.run(g, x)
    gain = sqnr_db(yf, evaluate.run(corrected, x)) - sqnr_db(yf, evaluate.run(plain, x))
    assert gain >= 2, gain
    data = fmt.encode(corrected)
    for threads in (1, 2):
        assert np.array_equal(attocore.load(data, threads=threads).run(x), evaluate.run(fmt.decode(data), x))


@pytest.mark.parametrize("method", METHODS)
def test_every_calibration_method_gives_a_valid_model(method):
    g = zoo.seeded_graph("attonet-d", input_hw=64)
    m = attocore.quantize(fmt.encode(g), inputs(3, 64), method=method, quiet=True)
    x = np.concatenate(inputs(2, 64, seed=9))
    assert np.isfinite(m.run(x)).all()
    assert m.graph.metadata.extra["quantization"].startswith(method)


def test_compare_reports_sqnr_error_and_agreement(small_int8):
    g, data = small_int8
    c = attocore.compare(fmt.encode(g), bytes(data), inputs(3, 64, seed=5))
    assert c.inputs == 3 and 15 < c.sqnr_db < 80 and c.max_abs_error > 0 and 0 <= c.top1_agreement <= 1
    same = attocore.compare(fmt.encode(g), fmt.encode(g), inputs(2, 64))
    assert same.sqnr_db == float("inf") and same.top1_agreement == 1.0


def test_keep_float_leaves_named_ops_float(small_int8):
    g, _ = small_int8
    m = attocore.quantize(fmt.encode(g), inputs(2, 64), keep_float=("fc",), quiet=True)
    fc = next(op for op in m.graph.ops if op.name == "fc")
    assert m.graph.tensors[fc.outputs[0]].dtype == "float32"
    everything = attocore.quantize(fmt.encode(g), inputs(2, 64), keep_float=(), quiet=True)
    stem = everything.graph.ops[1]
    assert stem.name == "stem" and everything.graph.tensors[stem.outputs[0]].dtype == "int8"


def test_calibration_inputs_are_checked(tmp_path):
    g = fmt.encode(zoo.seeded_graph("attonet-d", input_hw=64))
    with pytest.raises(attocore.InputError, match="holds no images"):
        attocore.quantize(g, str(tmp_path), quiet=True)
    with pytest.raises(attocore.InputError, match="does not exist"):
        attocore.quantize(g, str(tmp_path / "nope"), quiet=True)
    with pytest.raises(attocore.InputError, match="NaN"):
        attocore.quantize(g, [np.full((1, 3, 64, 64), np.nan, np.float32)], quiet=True)
    with pytest.raises(attocore.InputError, match=r"\(N, 3, 64, 64\)"):
        attocore.quantize(g, [np.zeros((1, 3, 32, 32), np.float32)], quiet=True)
    with pytest.raises(attocore.InputError, match="no calibration"):
        attocore.quantize(g, [], quiet=True)
    with pytest.raises(ValueError, match="unknown calibration method"):
        attocore.quantize(g, inputs(1, 64), method="mse", quiet=True)
    q = attocore.quantize(g, inputs(1, 64), quiet=True)
    with pytest.raises(attocore.InputError, match="already quantized"):
        attocore.quantize(_int8_bytes(zoo.seeded_graph("attonet-d", input_hw=64), inputs(1, 64)), inputs(1, 64))
    assert q.precision == "int8"


def test_int8_models_refuse_other_backends(small_int8):
    _, data = small_int8
    for backend in ("numba", "tvm"):
        with pytest.raises(UnsupportedOpError, match="int8"):
            attocore.load(bytes(data), backend=backend)


def test_cli_quantize_then_run(tmp_path):
    from PIL import Image
    images = tmp_path / "calib"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (240, 260, 3), dtype=np.uint8)).save(images / f"{i}.png")
    out, png = tmp_path / "d8.atto", tmp_path / "report.png"
    cmd = [sys.executable, "-P", "-m", "attocore", "quantize", "attonet-d", "--calib", str(images), "-o", str(out),
           "--report", str(png)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "logits" in r.stdout and "SQNR" in r.stdout and "m16.add" in r.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = subprocess.run([sys.executable, "-P", "-m", "attocore", "run", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "1." in r.stdout, r.stderr


@pytest.mark.parametrize("args,message", [
    (["--calib-random", "2", "-o", "{tmp}/missing/x.atto"], "directory"),
    (["--calib", "{tmp}/none", "-o", "{tmp}/x.atto"], "does not exist"),
    (["-o", "{tmp}/x.atto"], "one of the arguments --calib --calib-random is required"),
    (["--calib-random", "0", "-o", "{tmp}/x.atto"], ""),
])
def test_cli_quantize_errors_are_one_line_and_leave_no_file(tmp_path, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    r = subprocess.run([sys.executable, "-P", "-m", "attocore", "quantize", "attonet-d"] + args, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode != 0 and "Traceback" not in r.stderr and message in r.stderr, r.stderr
    assert not (tmp_path / "x.atto").exists()


# ---- malformed int8 files: both readers refuse them, with the same class ----

def _mutated(data, change):
    g = fmt.decode(bytes(data))
    g = fmt.Graph(g.metadata, {n: dataclasses.replace(t) for n, t in g.tensors.items()},
                  [dataclasses.replace(op) for op in g.ops], list(g.inputs), list(g.outputs))
    change(g)
    return fmt.encode(g)


@pytest.mark.parametrize("name", ["nan scale", "zero point past int8", "wrong scale count",
                                  "zero point on a one-scale weight"])
def test_save_refuses_what_no_reader_would_load(small_int8, name, tmp_path):
    g = fmt.decode(bytes(small_int8[1]))
    g = fmt.Graph(g.metadata, {n: dataclasses.replace(t) for n, t in g.tensors.items()},
                  [dataclasses.replace(op) for op in g.ops], list(g.inputs), list(g.outputs))
    MUTATIONS[name][0](g)
    with pytest.raises(FormatError):
        fmt.save(g, tmp_path / "x.atto")
    assert not (tmp_path / "x.atto").exists()


def _first(g, pred):
    return next(t for t in g.tensors.values() if pred(t))


def _act8(g):
    return _first(g, lambda t: t.dtype == "int8" and not t.is_constant)


def _w8(g):
    return _first(g, lambda t: t.dtype == "int8" and t.is_constant)


def _set(t, **kw):
    for k, v in kw.items():
        setattr(t, k, v)


MUTATIONS = {
    "nan scale": (lambda g: _set(_act8(g), scales=(float("nan"),)), FormatError),
    "zero scale": (lambda g: _set(_act8(g), scales=(0.0,)), FormatError),
    "negative scale": (lambda g: _set(_w8(g), scales=(-1.0,) * len(_w8(g).scales)), FormatError),
    "zero point past int8": (lambda g: _set(_act8(g), zero_point=128), FormatError),
    "per-channel zero point": (lambda g: _set(_w8(g), zero_point=3), FormatError),
    "scales per channel on an activation": (lambda g: _set(_act8(g), scales=(0.1, 0.2)), FormatError),
    "wrong scale count": (lambda g: _set(_w8(g), scales=_w8(g).scales[:-1]), FormatError),
    "float weight of an int8 conv": (lambda g: _set(_w8(g), data=_w8(g).data.astype(np.float32), dtype="float32",
                                                    scales=()), GraphError),
    "bias past 2^30": (lambda g: _set(_first(g, lambda t: t.dtype == "int32"),
                                      data=np.full(_first(g, lambda t: t.dtype == "int32").shape, 2**30 + 1,
                                                   np.int32)), FormatError),
    "multiplier past 2^20": (lambda g: _set(g.tensors[next(op.outputs[0] for op in g.ops if op.name == "m1.compress")],
                                            scales=(1e-30,)), FormatError),
    "int8 graph input": (lambda g: _set(g.tensors[g.inputs[0]], dtype="int8", scales=(0.1,)), None),
    "int32 activation": (lambda g: _set(_act8(g), dtype="int32", scales=()), FormatError),
    "zero point on a one-scale weight": (lambda g: _set(_w8(g), scales=(0.01,), zero_point=5), FormatError),
    "activation on a quantize": (lambda g: _set(next(op for op in g.ops if op.type == "quantize"),
                                                activation="relu"), GraphError),
    "activation on a dequantize": (lambda g: _set(next(op for op in g.ops if op.type == "dequantize"),
                                                  activation="sigmoid"), GraphError),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_malformed_int8_files_are_refused_alike(small_int8, name):
    change, error = MUTATIONS[name]
    data = _mutated(small_int8[1], change)
    py, native = reader_verdicts(data)
    assert py != "ok" and same_verdict(py, native), (py, native)
    if error is not None:
        assert py.split(":")[0] == error.__name__, py


def test_a_version_1_file_cannot_hold_int8(small_int8):
    data = bytearray(small_int8[1])
    data[8:12] = (1).to_bytes(4, "little")
    data[56:60] = fmt.checksum(data).to_bytes(4, "little")
    py, native = reader_verdicts(bytes(data))
    assert py.startswith("FormatError") and same_verdict(py, native), (py, native)


def test_a_deep_int8_reduction_is_refused(tmp_path):
    """An int8 fully connected summing more than 2^15 products could overflow int32."""
    from attocore.graph import Graph, Metadata, Op, Tensor
    k = 40000
    md = Metadata(name="deep", input_shape=(k, 1, 1), mean=(0.0,) * k, std=(1.0,) * k, resize=0,
                  extra={"input_rank": "2"})
    t = {"x": Tensor("x", (1, k, 1, 1)), "xq": Tensor("xq", (1, k, 1, 1), dtype="int8", scales=(0.1,)),
         "g": Tensor("g", (1, k), dtype="int8", scales=(0.1,)),
         "w": Tensor("w", (2, k), np.ones((2, k), np.int8), "int8", (0.01, 0.01), 0),
         "y": Tensor("y", (1, 2), dtype="int8", scales=(0.5,)), "yf": Tensor("yf", (1, 2))}
    ops = [Op("quantize", "q", ["x"], ["xq"]), Op("global_avgpool", "gap", ["xq"], ["g"]),
           Op("fully_connected", "fc", ["g", "w"], ["y"]), Op("dequantize", "dq", ["y"], ["yf"])]
    data = fmt.encode(Graph(md, t, ops, ["x"], ["yf"]))
    py, native = reader_verdicts(data)
    assert py.startswith("ResourceLimitError") and same_verdict(py, native), (py, native)


@pytest.mark.parametrize("net", ["mobilenet-v2", "mobilenet-v3-small", "small-resnet"])
def test_onnx_imported_nets_quantize_and_match_the_reference(net, tmp_path):
    """CNNs imported from ONNX: MobileNet-V3's hard swish and squeeze-and-excitation stay
    float32 between dequantize and quantize ops; the C++ result still equals the numpy
    reference bit for bit, and the logits stay close to float32."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from attocore.onnx import convert
    from attocore.testing import torch_nets
    make = {"mobilenet-v2": lambda: torch_nets.MobileNetV2(), "mobilenet-v3-small": lambda: torch_nets.MobileNetV3("small"),
            "small-resnet": lambda: torch_nets.SmallResNet()}[net]
    onnx_path, atto = tmp_path / "m.onnx", tmp_path / "m.atto"
    torch_nets.export_onnx(torch_nets.randomize(make(), seed=3), str(onnx_path), size=96)
    convert(str(onnx_path), str(atto))
    shape = attocore.load(str(atto)).input_shape
    calib = [np.random.default_rng(i).standard_normal((1,) + shape).astype(np.float32) for i in range(4)]
    m8 = attocore.quantize(str(atto), calib, out=str(tmp_path / "q.atto"), keep_float=(), quiet=True)
    kinds = {op.type for op in m8.graph.ops}
    assert "quantize" in kinds and "dequantize" in kinds
    x = np.concatenate([np.random.default_rng(50 + i).standard_normal((1,) + shape).astype(np.float32)
                        for i in range(2)])
    y8 = m8.run(x)
    want = evaluate.run(fmt.load(str(tmp_path / "q.atto")), x)
    if net == "mobilenet-v3-small":  # hard swish and SE in float32 between dequantize and quantize
        assert sqnr_db(want, y8) >= 35
    else:  # no float op before any quantize but the input's: bit for bit
        assert np.array_equal(y8, want)
    assert sqnr_db(attocore.load(str(atto)).run(x), y8) >= 20


def test_one_int8_model_shared_across_threads(small_int8):
    """Eight Python threads on one int8 model: every result equals the single-threaded one."""
    from concurrent.futures import ThreadPoolExecutor
    _, data = small_int8
    m = attocore.load(bytes(data), threads=2)
    xs = [np.concatenate(inputs(1 + i % 3, 64, seed=300 + i)) for i in range(16)]
    want = [m.run(x) for x in xs]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(m.run, xs))
    assert all(np.array_equal(a, b) for a, b in zip(got, want))


def test_capi_runs_int8_unchanged(small_int8):
    pytest.importorskip("cffi")
    from attocore import capi
    _, data = small_int8
    x = np.concatenate(inputs(2, 64, seed=400))
    assert np.array_equal(capi.load(bytes(data)).run(x), attocore.load(bytes(data)).run(x))



def _tiny(tensors, ops, shape, out="y"):
    from attocore.graph import Graph, Metadata
    md = Metadata(name="t", input_shape=shape, resize=0, mean=(0.0,) * shape[0], std=(1.0,) * shape[0])
    return Graph(md, {t.name: t for t in tensors}, ops, ["x"], [out])


def test_a_constant_shared_by_two_convolutions_is_quantized_per_reader():
    """The bias's units depend on each convolution's input scale: one copy each."""
    from attocore.graph import Op, Tensor
    rng = np.random.default_rng(0)
    w1, w2 = rng.standard_normal((3, 3, 1, 1)).astype(np.float32), 10 * rng.standard_normal((3, 3, 1, 1)).astype(np.float32)
    b = np.array([5.0, -5.0, 3.0], np.float32)
    at = {"kernel": (1, 1), "stride": (1, 1), "pad": (0, 0, 0, 0), "groups": (1,)}
    g = _tiny([Tensor("x", (1, 3, 8, 8)), Tensor("w1", w1.shape, w1), Tensor("b", b.shape, b), Tensor("a", (1, 3, 8, 8)),
               Tensor("w2", w2.shape, w2), Tensor("y", (1, 3, 8, 8))],
              [Op("conv2d", "A", ["x", "w1", "b"], ["a"], at), Op("conv2d", "B", ["a", "w2", "b"], ["y"], at)], (3, 8, 8))
    cal = [np.random.default_rng(i).standard_normal((1, 3, 8, 8)).astype(np.float32) for i in range(8)]
    data = fmt.encode(g)
    for keep in ((), ("A",), ("B",)):
        m = attocore.quantize(data, cal, keep_float=keep, quiet=True)
        assert attocore.compare(data, m, cal).sqnr_db > 30, keep
    with pytest.raises(ValueError, match="names no op"):
        attocore.quantize(data, cal, keep_float=("C",), quiet=True)


def test_an_add_of_opposite_terms_stays_within_the_multiplier_range():
    from attocore.graph import Op, Tensor
    w = np.random.default_rng(1).standard_normal((3, 3, 1, 1)).astype(np.float32)
    at = {"kernel": (1, 1), "stride": (1, 1), "pad": (0, 0, 0, 0), "groups": (1,)}
    g = _tiny([Tensor("x", (1, 3, 4, 4)), Tensor("w", w.shape, w), Tensor("wn", w.shape, -w), Tensor("a", (1, 3, 4, 4)),
               Tensor("b", (1, 3, 4, 4)), Tensor("y", (1, 3, 4, 4))],
              [Op("conv2d", "A", ["x", "w"], ["a"], at), Op("conv2d", "B", ["x", "wn"], ["b"], at),
               Op("add", "S", ["a", "b"], ["y"])], (3, 4, 4))
    cal = [np.random.default_rng(i).standard_normal((1, 3, 4, 4)).astype(np.float32) for i in range(2)]
    m = attocore.quantize(fmt.encode(g), cal, keep_float=(), quiet=True)
    assert np.abs(m.run(cal[0])).max() < 0.1


def test_nan_inside_the_graph_quantizes_alike_in_cpp_and_numpy():
    """x * x overflows to inf, a conv with a zero weight makes NaN of it: the quantize op takes
    the clamp's lower bound in both."""
    from attocore.graph import Op, Tensor
    at = {"kernel": (1, 1), "stride": (1, 1), "pad": (0, 0, 0, 0), "groups": (1,)}
    w = np.zeros((1, 1, 1, 1), np.float32)
    g = _tiny([Tensor("x", (1, 1, 2, 2)), Tensor("sq", (1, 1, 2, 2)), Tensor("w", w.shape, w), Tensor("z", (1, 1, 2, 2)),
               Tensor("q", (1, 1, 2, 2), dtype="int8", scales=(0.1,), zero_point=3), Tensor("y", (1, 1, 2, 2))],
              [Op("mul", "sq", ["x", "x"], ["sq"]), Op("conv2d", "c", ["sq", "w"], ["z"], at),
               Op("quantize", "qz", ["z"], ["q"]), Op("dequantize", "dq", ["q"], ["y"])], (1, 2, 2))
    x = np.full((1, 1, 2, 2), 3e38, np.float32)
    want = evaluate.run(g, x)
    got = attocore.load(fmt.encode(g)).run(x)
    assert np.array_equal(got, want) and np.allclose(got, (-128 - 3) * np.float32(0.1))


def test_global_avgpool_of_a_huge_image():
    """A 3000 x 3000 image of 255s: the 64-bit sum is not cut to int32 on the way."""
    from attocore.graph import Op, Tensor
    g = _tiny([Tensor("x", (1, 1, 3000, 3000)), Tensor("q", (1, 1, 3000, 3000), dtype="int8", scales=(1.0,),
                                                       zero_point=-128),
               Tensor("p", (1, 1), dtype="int8", scales=(1.0,), zero_point=-128), Tensor("y", (1, 1))],
              [Op("quantize", "qz", ["x"], ["q"]), Op("global_avgpool", "gap", ["q"], ["p"]),
               Op("dequantize", "dq", ["p"], ["y"])], (1, 3000, 3000))
    x = np.full((1, 1, 3000, 3000), 255.0, np.float32)
    got = attocore.load(fmt.encode(g)).run(x)
    assert got[0, 0] == 255.0 and np.array_equal(got, evaluate.run(g, x))


def test_cli_refuses_to_write_over_its_model(tmp_path):
    model = tmp_path / "m.atto"
    fmt.save(zoo.seeded_graph("attonet-d", input_hw=32), model)
    before = model.read_bytes()
    r = subprocess.run([sys.executable, "-P", "-m", "attocore", "quantize", str(model), "--calib-random", "1", "-o",
                        str(model)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "the model itself" in r.stderr and model.read_bytes() == before


def test_a_fifo_among_calibration_images_is_skipped(tmp_path):
    from PIL import Image
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "a.png")
    os.mkfifo(tmp_path / "b.jpg")
    from attocore.quantize.data import image_files
    assert image_files(str(tmp_path)) == [str(tmp_path / "a.png")]
