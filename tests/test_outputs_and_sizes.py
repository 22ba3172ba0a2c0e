"""Several graph outputs (docs/FORMAT.md, "Graph inputs and outputs") through both readers, every
backend and the importers; and Model.run re-planning a fully convolutional model for another
input size (README, "Input sizes")."""
import glob
import os
import struct
import subprocess
import sys
import threading

import numpy as np
import pytest

import attocore
from attocore import capi
from attocore import format as fmt
from attocore.graph import Graph, Metadata, Op, Tensor
from attocore.model import resized_graph
from attocore.quantize.evaluate import evaluate

CONV = {"kernel": (3, 3), "stride": (1, 1), "pad": (1, 1, 1, 1), "dilation": (1, 1), "groups": (1,)}


def heads_graph(h=16, w=16, outputs=("logits", "down.out", "c1.out"), seed=0, odd_add=False) -> Graph:
    """conv 3x3 -> conv 1x1 (+ the first's output, ReLU: a residual the planner fuses) -> conv 3x3
    stride 2 -> global pool -> fully connected. c1.out, read by two ops, and c2.out, internal to
    the fused residual step unless it is an output, make outputs the planner must keep.
    odd_add: a second branch with a 2x2 stride-2 window joins the stride-2 one, so an odd input
    size gives maps that no longer match."""
    rng = np.random.default_rng(seed)
    t = {"input": Tensor("input", (1, 3, h, w))}

    def const(name, shape):
        t[name] = Tensor(name, shape, (0.3 * rng.standard_normal(shape)).astype(np.float32))
        return name

    ops = []

    def op(kind, name, ins, attrs=None, act="none"):
        ops.append(Op(kind, name, ins, [f"{name}.out"], dict(attrs or {}), act))
        return f"{name}.out"

    c1 = op("conv2d", "c1", ["input", const("c1.w", (8, 3, 3, 3)), const("c1.b", (8,))], CONV, "relu")
    c2 = op("conv2d", "c2", [c1, const("c2.w", (8, 8, 1, 1)), const("c2.b", (8,))],
            {**CONV, "kernel": (1, 1), "pad": (0, 0, 0, 0)})
    s = op("add", "res", [c2, c1], act="relu")
    d = op("conv2d", "down", [s, const("down.w", (16, 8, 3, 3)), const("down.b", (16,))], {**CONV, "stride": (2, 2)},
           "relu")
    if odd_add:
        e = op("conv2d", "side", [s, const("side.w", (16, 8, 2, 2)), const("side.b", (16,))],
               {**CONV, "kernel": (2, 2), "stride": (2, 2), "pad": (0, 0, 0, 0)})
        d = op("add", "join", [d, e])
    g = op("global_avgpool", "gap", [d])
    ops.append(Op("fully_connected", "fc", [g, const("fc.w", (5, 16)), const("fc.b", (5,))], ["logits"]))
    graph = Graph(Metadata(name="heads", input_shape=(3, h, w), resize=0), t, ops, ["input"], list(outputs))
    # Shapes by inference, as the format stores them.
    from attocore.graph import infer_output_shape
    for o in ops:
        t[o.outputs[0]] = Tensor(o.outputs[0], tuple(infer_output_shape(graph, o)))
    return graph


def reference(graph, x):
    env = evaluate(graph, x)
    return tuple(env[n] for n in graph.outputs)


def close(got, want, tol=1e-4):
    assert isinstance(got, tuple) and len(got) == len(want)
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == np.float32
        assert np.abs(a - b).max() <= tol * (np.abs(b).max() + 1), (a.shape, float(np.abs(a - b).max()))


# -- the format ------------------------------------------------------------------------------

def test_several_outputs_round_trip_through_both_readers(tmp_path):
    g = heads_graph()
    path = tmp_path / "heads.atto"
    fmt.save(g, path)
    assert fmt.load(path).outputs == ["logits", "down.out", "c1.out"]
    assert fmt.file_version(g) == 1  # a compatible extension: the version stays
    for backend in ("native", "numba"):
        m = attocore.load(path, backend=backend)
        assert m.output_names == ("logits", "down.out", "c1.out")
        assert m.output_shapes == ((5,), (16, 8, 8), (8, 16, 16))
    c = capi.load(path)
    assert c.output_names == ("logits", "down.out", "c1.out") and c.output_shapes[1] == (16, 8, 8)
    # One output: exactly today's file (count 1) and today's ndarray.
    one = heads_graph(outputs=("logits",))
    assert isinstance(attocore.load(fmt.encode(one)).run(np.zeros((1, 3, 16, 16), np.float32)), np.ndarray)


def _patched(data: bytes, tail: bytes, drop: int) -> bytes:
    """The file with the last `drop` bytes of its graph section (the output record) replaced
    by `tail`; the data section moved to its new aligned offset, sizes and checksum fixed."""
    g_size, d_off = struct.unpack_from("<Q", data, 32)[0], struct.unpack_from("<Q", data, 40)[0]
    section = data[fmt.HEADER_SIZE:fmt.HEADER_SIZE + g_size - drop] + tail
    new_off = fmt._align(fmt.HEADER_SIZE + len(section))
    out = bytearray(data[:fmt.HEADER_SIZE] + section + bytes(new_off - fmt.HEADER_SIZE - len(section)) + data[d_off:])
    struct.pack_into("<QQQQQ", out, 16, len(out), fmt.HEADER_SIZE, len(section), new_off, len(out) - new_off)
    struct.pack_into("<I", out, fmt.CRC_OFFSET, 0)
    struct.pack_into("<I", out, fmt.CRC_OFFSET, fmt.checksum(out))
    return bytes(out)


def _verdict(fn, data):
    try:
        fn(data)
    except attocore.AttocoreError as e:
        return type(e).__name__
    return "ok"


def _output_record(g, names):
    index = {n: i for i, n in enumerate(g.tensors)}
    ids = [index[n] if isinstance(n, str) else n for n in names]
    return struct.pack(f"<I{len(ids)}I", len(ids), *ids)


BAD_RECORDS = {
    "count 0": ([], "GraphError"),
    "count 17": (["logits"] * 17, "ResourceLimitError"),
    "duplicate": (["logits", "down.out", "logits"], "GraphError"),
    "the input": (["logits", "input"], "GraphError"),
    "a constant": (["logits", "fc.w"], "GraphError"),
    "out of range": (["logits", 10_000], "FormatError"),
}


@pytest.mark.parametrize("case", sorted(BAD_RECORDS))
def test_malformed_output_records_are_refused_alike(case):
    from attocore import _core
    names, want = BAD_RECORDS[case]
    g = heads_graph()
    data = fmt.encode(g)
    bad = _patched(data, _output_record(g, names), len(_output_record(g, g.outputs)))
    assert _verdict(fmt.decode, data) == "ok"
    py, native = _verdict(fmt.decode, bad), _verdict(_core.load_bytes, bad)
    assert py == native == want, (py, native)
    assert _verdict(capi.load, bad) == want
    # The Python writer checks the same before writing (save validates first).
    if case not in ("count 17", "out of range"):
        from attocore.graph import validate
        g.outputs = list(names)
        with pytest.raises(attocore.GraphError):
            validate(g)


def test_labels_name_the_first_output():
    g = heads_graph()
    g.metadata.labels = tuple(f"c{i}" for i in range(5))
    fmt.decode(fmt.encode(g))
    g.metadata.labels = tuple(f"c{i}" for i in range(16 * 8 * 8))  # the second output's count
    from attocore import _core
    data = fmt.encode(g)
    assert _verdict(fmt.decode, data) == _verdict(_core.load_bytes, data) == "GraphError"


# -- the backends ----------------------------------------------------------------------------

@pytest.mark.parametrize("outputs", [("logits", "down.out", "c1.out"), ("c2.out", "logits"), ("res.out", "c2.out")])
def test_native_numba_and_capi_give_every_output(outputs, rng):
    g = heads_graph(outputs=outputs)
    data = fmt.encode(g)
    x = rng.standard_normal((3, 3, 16, 16)).astype(np.float32)
    want = reference(fmt.decode(data), x)
    for kw in ({}, {"force_reference": True}, {"threads": 2}):
        close(attocore.load(data, **kw).run(x), want)
    close(attocore.load(data, backend="numba").run(x), want)
    close(capi.load(data, threads=1).run(x), want)
    # The single-output C entry points hand out the first output.
    c = capi.load(data, threads=1)
    out = np.empty((3,) + c.output_shape, np.float32)
    lib, ffi = capi.lib(), capi.ffi()
    st = lib.attocore_session_run_checked(c._session, ffi.cast("const float*", x.ctypes.data), x.size, 3,
                                          ffi.cast("float*", out.ctypes.data), out.size)
    assert st == 0 and np.allclose(out, want[0], atol=1e-4)


def test_profile_and_api_run_on_several_outputs(tmp_path, rng):
    m = attocore.load(fmt.encode(heads_graph()))
    x = rng.standard_normal((1, 3, 16, 16)).astype(np.float32)
    outs, steps = m.profile(x)
    assert len(outs) == 3 and steps
    r = attocore.run(m, x)
    assert isinstance(r, attocore.OutputsResult) and list(r.outputs) == ["logits", "down.out", "c1.out"]
    text = str(r)
    assert "down.out" in text and "(1, 16, 8, 8)" in text
    path = tmp_path / "heads.atto"
    fmt.save(heads_graph(h=32, w=32), path)
    proc = subprocess.run([sys.executable, "-m", "attocore", "run", str(path)], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "3 outputs" in proc.stdout and "c1.out" in proc.stdout and "(1, 8, 32, 32)" in proc.stdout


def test_tvm_refuses_several_outputs():
    pytest.importorskip("tvm")
    with pytest.raises(attocore.UnsupportedOpError, match="3 graph outputs.*single-output"):
        attocore.load(fmt.encode(heads_graph()), backend="tvm")


def test_attocore_run_tool_prints_every_output(cpp_build, tmp_path):
    tool = next(iter(glob.glob(os.path.join(str(cpp_build), "**", "attocore-run"), recursive=True)), None)
    assert tool, "attocore-run was not built"
    path = tmp_path / "heads.atto"
    fmt.save(heads_graph(), path)
    raw = tmp_path / "x.f32"
    np.random.default_rng(0).standard_normal((1, 3, 16, 16)).astype(np.float32).tofile(raw)
    proc = subprocess.run([tool, str(path), str(raw)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "3 outputs" in proc.stdout and "down.out" in proc.stdout and "(1, 16, 8, 8)" in proc.stdout


# -- importers -------------------------------------------------------------------------------

def test_onnx_model_with_two_outputs_matches_onnxruntime(tmp_path, rng):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper
    from attocore.onnx import convert

    def init(name, shape):
        return numpy_helper.from_array((0.3 * rng.standard_normal(shape)).astype(np.float32), name)

    nodes = [helper.make_node("Conv", ["x", "W1", "B1"], ["a"], name="c1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["a"], ["feat"], name="r1"),
             helper.make_node("Conv", ["feat", "W2"], ["b"], name="c2", kernel_shape=[3, 3], strides=[2, 2],
                              pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["b"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "W3", "B3"], ["logits"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "two", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 12, 12])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 4]),
                               helper.make_tensor_value_info("feat", TensorProto.FLOAT, [1, 6, 12, 12])],
                              initializer=[init("W1", (6, 3, 3, 3)), init("B1", (6,)), init("W2", (8, 6, 3, 3)),
                                           init("W3", (4, 8)), init("B3", (4,))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, tmp_path / "two.onnx")
    g = convert(tmp_path / "two.onnx", tmp_path / "two.atto")
    assert g.outputs == ["logits", "feat"]
    m = attocore.load(tmp_path / "two.atto")
    assert m.output_names == ("logits", "feat") and m.output_shapes == ((4,), (6, 12, 12))
    x = rng.standard_normal((1, 3, 12, 12)).astype(np.float32)
    sess = ort.InferenceSession(str(tmp_path / "two.onnx"), providers=["CPUExecutionProvider"])
    want = tuple(sess.run(None, {"x": x}))
    close(m.run(x), want)


def test_torch_backbone_exports_its_maps(tmp_path, rng):
    pytest.importorskip("torch")
    from attocore.torch import attonet, export, validate

    net = attonet("attonet-d", features=True).eval()  # forward returns the stride-8/16/32 maps
    export(net, tmp_path / "f.atto")
    m = attocore.load(tmp_path / "f.atto")
    assert [s[1:] for s in m.output_shapes] == [(28, 28), (14, 14), (7, 7)]
    assert [s[0] for s in m.output_shapes] == list(net.feature_channels)
    assert validate(net, tmp_path / "f.atto", rng.standard_normal((1, 3, 224, 224)).astype(np.float32)).within()
    y = m.run(rng.standard_normal((1, 3, 160, 192)).astype(np.float32))  # another size: re-planned
    assert [a.shape[2:] for a in y] == [(20, 24), (10, 12), (5, 6)]


# -- re-planning for another input size ------------------------------------------------------

@pytest.mark.parametrize("backend", ["native", "numba"])
def test_replanned_sizes_match_a_model_made_at_that_size(tmp_path, rng, backend):
    path = tmp_path / "heads.atto"
    fmt.save(heads_graph(), path)
    m = attocore.load(path, backend=backend)
    for h, w in ((20, 12), (9, 31)):
        x = rng.standard_normal((2, 3, h, w)).astype(np.float32)
        got = m.run(x)
        made = attocore.load(fmt.encode(heads_graph(h, w)), backend=backend).run(x)
        close(got, made, tol=1e-5)
        close(got, reference(heads_graph(h, w), x))
        assert got[1].shape == (2, 16, (h + 1) // 2, (w + 1) // 2)
    assert m.cached_sizes() == [(20, 12), (9, 31)]
    assert m.run(np.zeros((1, 3, 16, 16), np.float32))[2].shape == (1, 8, 16, 16)  # its own size: as before


def test_size_cache_reuses_and_drops_the_least_recent(tmp_path):
    path = tmp_path / "heads.atto"
    fmt.save(heads_graph(), path)
    m = attocore.load(path)
    first = m.sized_executor(10, 10)
    assert m.sized_executor(10, 10) is first and m.sized_executor(16, 16) is m.executor
    for s in range(11, 11 + m.SIZE_CACHE):
        m.sized_executor(s, s)
    assert (10, 10) not in m.cached_sizes() and len(m.cached_sizes()) == m.SIZE_CACHE
    assert m.sized_executor(10, 10) is not first


def test_threads_running_different_sizes_on_one_model(tmp_path):
    path = tmp_path / "heads.atto"
    fmt.save(heads_graph(), path)
    m = attocore.load(path, threads=1)
    sizes = [(16, 16), (12, 20), (24, 8), (7, 7), (12, 20), (24, 8)]
    inputs = {s: np.random.default_rng(s[0] * 100 + s[1]).standard_normal((1, 3) + s).astype(np.float32)
              for s in sizes}
    want = {s: reference(heads_graph(*s), inputs[s]) for s in sizes}
    errors = []

    def work(k):
        try:
            for i in range(6):
                s = sizes[(k + i) % len(sizes)]
                close(m.run(inputs[s]), want[s])
        except Exception as e:  # reported below, with the thread's size
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert len(m.cached_sizes()) <= m.SIZE_CACHE


def test_sizes_the_graph_cannot_take_are_refused_naming_the_op(tmp_path):
    path = tmp_path / "odd.atto"
    fmt.save(heads_graph(outputs=("logits",), odd_add=True), path)
    m = attocore.load(path)
    assert m.run(np.zeros((1, 3, 18, 20), np.float32)).shape == (1, 5)  # even sizes still fit
    with pytest.raises(attocore.InputError, match=r"input size 15x20.*op 'join' \(add\)"):
        m.run(np.zeros((1, 3, 15, 20), np.float32))
    with pytest.raises(attocore.InputError, match=r"input shape must be \(N, 3,"):
        m.run(np.zeros((1, 4, 16, 16), np.float32))  # the channel count is the file's
    pool = heads_graph(outputs=("logits",))
    pool.ops[0].attrs = {**CONV, "kernel": (3, 3), "pad": (0, 0, 0, 0)}  # a 3x3 window without padding
    from attocore.graph import infer_output_shape
    for o in pool.ops:
        pool.tensors[o.outputs[0]] = Tensor(o.outputs[0], tuple(infer_output_shape(pool, o)))
    with pytest.raises(attocore.InputError, match=r"op 'c1' \(conv2d\): output would be empty"):
        attocore.load(fmt.encode(pool), backend="numba").run(np.zeros((1, 3, 2, 9), np.float32))
    with pytest.raises(attocore.InputError, match="outside"):
        resized_graph(pool, 0, 5)


def test_a_vector_model_keeps_its_input_shape():
    # A model taking [N, C] vectors (input_rank 2) has no spatial size to change: its (N, C)
    # input shape is checked as before.
    t = {"input": Tensor("input", (1, 4, 1, 1)), "gap.out": Tensor("gap.out", (1, 4)),
         "fc.w": Tensor("fc.w", (3, 4), np.ones((3, 4), np.float32)), "y": Tensor("y", (1, 3))}
    ops = [Op("global_avgpool", "gap", ["input"], ["gap.out"]), Op("fully_connected", "fc", ["gap.out", "fc.w"], ["y"])]
    g = Graph(Metadata(name="mlp", input_shape=(4, 1, 1), mean=(0,) * 4, std=(1,) * 4, resize=0,
                       extra={"input_rank": "2"}), t, ops, ["input"], ["y"])
    m = attocore.load(fmt.encode(g), backend="numba")
    with pytest.raises(attocore.InputError, match=r"\(N, 4\)"):
        m.run(np.zeros((1, 4, 3, 3), np.float32))


def test_a_native_model_from_bytes_cannot_replan():
    m = attocore.load(fmt.encode(heads_graph()))
    with pytest.raises(attocore.InputError, match="cannot re-plan"):
        m.run(np.zeros((1, 3, 12, 12), np.float32))
    # numba keeps the weights: it can.
    assert attocore.load(fmt.encode(heads_graph()), backend="numba").run(
        np.zeros((1, 3, 12, 12), np.float32))[1].shape == (1, 16, 6, 6)


def test_quantize_keeps_every_output(rng):
    g = heads_graph(outputs=("logits", "down.out", "c2.out"))
    calibration = [rng.standard_normal((4, 3, 16, 16)).astype(np.float32) for _ in range(2)]
    q = attocore.quantize(fmt.encode(g), calibration, quiet=True, keep_float=())
    assert q.precision == "int8" and len(q.output_names) == 3
    x = calibration[0]
    got, want = q.run(x), reference(g, x)
    for a, b in zip(got, want):
        assert a.shape == b.shape
        assert np.abs(a - b).max() <= 0.1 * np.abs(b).max() + 0.05  # int8: close, not exact


def test_random_graphs_with_many_outputs_match_the_reference_path():
    """Random graphs (fuzz/graph_gen.py, every block and fusion pattern) with up to 16 of their
    op outputs as graph outputs: no fused step may keep one to itself or write over it."""
    from cmake_build import ROOT
    sys.path.insert(0, os.path.join(ROOT, "fuzz"))
    try:
        from graph_gen import random_graph
    finally:
        sys.path.pop(0)
    checked = 0
    for seed in range(60):
        rng = np.random.default_rng(70_000 + seed)
        g = random_graph(rng, big=seed % 20 == 0)
        computed = [op.outputs[0] for op in g.ops if op.outputs[0] not in g.outputs]
        pick = rng.permutation(len(computed))[:15]
        g.outputs = list(g.outputs) + [computed[i] for i in sorted(pick)]
        data = fmt.encode(g)
        c, h, w = g.metadata.input_shape
        x = rng.standard_normal((2, c, h, w)).astype(np.float32)
        want = reference(fmt.decode(data), x)
        scale = max(float(np.abs(a).max()) for a in want)
        if not np.isfinite(scale) or scale > 1e30:
            continue
        got = attocore.load(data, threads=2).run(x)
        got = got if isinstance(got, tuple) else (got,)
        for name, a, b in zip(g.outputs, got, want):
            assert a.shape == b.shape, name
            assert np.abs(a - b).max() <= 1e-4 * scale + 1e-5, (seed, name, float(np.abs(a - b).max()))
        checked += 1
    assert checked >= 40
