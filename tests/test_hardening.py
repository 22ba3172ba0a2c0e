"""Hardening: concurrency, resource limits, leaks and lifetimes, stable errors across the
Python API, the C API and attocore-run, and the fuzzers' regression inputs."""
import gc
import glob
import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import attocore
from attocore import capi, zoo
from attocore import format as fmt
from test_bad_input import bad_files

DATA = os.path.join(os.path.dirname(__file__), "data")


def test_threads_sharing_one_model_match_serial(rng):
    """More Python threads than cores on one Model, GIL released while running."""
    model = attocore.load(fmt.encode(zoo.seeded_graph("attonet-c", input_hw=96)), threads=1)
    inputs = [rng.standard_normal((1 + i % 2, 3, 96, 96)).astype(np.float32) for i in range(6)]
    serial = [model.run(x) for x in inputs]
    errors = []

    def worker(k):
        for r in range(8):
            i = (k + r) % len(inputs)
            if not np.array_equal(model.run(inputs[i]), serial[i]):
                errors.append((k, r))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_arena_limit_is_a_clear_error():
    data = fmt.encode(zoo.seeded_graph("attonet-d"))
    need = attocore.load(data).arena_bytes(4)
    small = attocore.load(data, max_arena_mb=need / 2**20 / 2)
    x = np.zeros((4, 3, 224, 224), np.float32)
    with pytest.raises(attocore.ResourceLimitError, match="arena"):
        small.run(x)
    assert small.run(x[:1]).shape == (1, 51)  # batch 1 fits under the same limit


def test_declared_counts_cannot_force_big_allocations():
    """A file claiming 65,536 tensors in a few bytes is refused before they are allocated."""
    import struct
    g = zoo.seeded_graph("attonet-d")
    g.tensors, g.ops, g.inputs, g.outputs = {}, [], [], []
    empty = bytearray(fmt.encode(g))
    g_size = struct.unpack_from("<Q", empty, 32)[0]
    # The section ends with four zero counts: tensors, ops, graph inputs, graph outputs.
    struct.pack_into("<I", empty, fmt.HEADER_SIZE + g_size - 16, 65536)
    struct.pack_into("<I", empty, fmt.CRC_OFFSET, 0)
    struct.pack_into("<I", empty, fmt.CRC_OFFSET, fmt.checksum(empty))
    with pytest.raises(attocore.FormatError, match="65536 tensors declared"):
        attocore.load(bytes(empty))


LEAK_CHILD = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from attocore import _core, capi
    data = open(sys.argv[1], "rb").read()
    x = np.random.default_rng(0).standard_normal((1, 3, 13, 11)).astype(np.float32)
    def rss_mb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    marks = []
    for i in range(10_000):
        m = _core.load_bytes(data, 1) if i % 2 else capi.load(data, threads=1)
        m.run(x)
        del m
        if i in (999, 9_999):
            marks.append(rss_mb())
    print(marks[0], marks[1])
""")


def test_memory_stays_flat_over_10000_loads_and_runs(tmp_path):
    proc = subprocess.run([sys.executable, "-c", LEAK_CHILD, os.path.join(DATA, "tiny.atto")], capture_output=True,
                          text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    after_1k, after_10k = map(float, proc.stdout.split())
    print(f"RSS after 1,000 load+run: {after_1k:.1f} MiB, after 10,000: {after_10k:.1f} MiB")
    assert after_10k - after_1k < 4.0, f"memory grew {after_10k - after_1k:.1f} MiB over 9,000 load+run cycles"


def test_output_outlives_its_model(rng):
    model = attocore.load("attonet-d")
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    y = model.run(x)
    copy = y.copy()
    del model
    gc.collect()
    assert y.flags.owndata and np.array_equal(y, copy)


def test_model_stays_valid_while_a_run_is_in_flight(rng):
    model = attocore.load("attonet-b", threads=1)
    x = rng.standard_normal((2, 3, 224, 224)).astype(np.float32)
    expected = model.run(x)
    result = {}
    t = threading.Thread(target=lambda m: result.setdefault("y", m.run(x)), args=(model,))
    t.start()
    del model  # only the thread (and its running call) hold the model now
    gc.collect()
    t.join()
    assert np.array_equal(result["y"], expected)


@pytest.mark.parametrize("case", ["truncated", "wrong magic", "unknown version", "offset past the end",
                                  "unknown op", "overflowing shape", "inconsistent shape"])
def test_same_error_from_python_capi_and_runner(tmp_path, cpp_build, case):
    data, _ = bad_files()[case]
    path = tmp_path / "bad.atto"
    path.write_bytes(data)
    with pytest.raises(attocore.AttocoreError) as py_err:
        attocore.load(str(path))
    with pytest.raises(attocore.AttocoreError) as c_err:
        capi.load(str(path))
    run = subprocess.run([str(cpp_build / "attocore-run"), str(path), os.path.join(DATA, "sample.ppm")],
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert type(py_err.value) is type(c_err.value)
    assert str(py_err.value) == str(c_err.value)
    assert str(py_err.value) in run.stderr


def test_fuzzer_regressions_and_seeds_are_refused_or_run_cleanly(tmp_path):
    """Every file of the regression corpus and the fuzzers' seed corpus, in process."""
    subprocess.run([sys.executable, os.path.join(os.path.dirname(DATA), "..", "fuzz", "make_corpus.py"),
                    str(tmp_path)], check=True, capture_output=True)
    files = sorted(glob.glob(os.path.join(DATA, "regressions", "*.atto"))) + sorted(glob.glob(str(tmp_path / "*")))
    assert len(files) >= 5
    for f in files:
        data = open(f, "rb").read()
        try:
            m = attocore.load(data)
        except attocore.AttocoreError:
            continue
        c, h, w = m.input_shape
        out = m.run(np.zeros((1, c, h, w), np.float32))
        assert all(np.isfinite(o).all() for o in (out if isinstance(out, tuple) else (out,)))  # every output


# -- issue #20 ----------------------------------------------------------------------------

REGRESSIONS = os.path.join(DATA, "regressions")

LOADERS_CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    import attocore
    from attocore import capi, format as fmt
    path, limit_mb = sys.argv[1], float(sys.argv[2])
    data = open(path, "rb").read()
    out = {}
    def outcome(name, fn):
        try:
            fn()
            out[name] = ["ok", ""]
        except Exception as e:
            out[name] = [type(e).__name__, str(e)]
    def run(model):
        c, h, w = model.input_shape
        model.run(np.zeros((1, c, h, w), np.float32))
    outcome("python reader", lambda: fmt.decode(data))
    outcome("attocore.load file", lambda: attocore.load(path))
    outcome("attocore.load bytes", lambda: attocore.load(data))
    outcome("numba", lambda: attocore.load(path, backend="numba"))
    outcome("capi file", lambda: capi.load(path))
    outcome("capi bytes", lambda: capi.load(data))
    if limit_mb:
        outcome("native run", lambda: run(attocore.load(path, max_arena_mb=limit_mb)))
        outcome("capi run", lambda: run(capi.load(path, max_arena_bytes=int(limit_mb * 2**20))))
    print(json.dumps(out))
""")


def regressions():
    with open(os.path.join(REGRESSIONS, "expected.json")) as f:
        return json.load(f)


@pytest.mark.parametrize("name", sorted(regressions()))
def test_regression_file_through_every_loader(tmp_path, cpp_build, name):
    """Each file of tests/data/regressions/ gets its expected verdict from attocore.load (file
    and bytes), the Python reader, the numba backend, the C API from Python, `attocore run`
    and attocore-run, each in a subprocess (a crash would be a dead child, not a pass)."""
    expect = regressions()[name]
    path = os.path.join(REGRESSIONS, name)
    limit = expect.get("run_limit_mb", 0)
    proc = subprocess.run([sys.executable, "-c", LOADERS_CHILD, path, str(limit)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, f"a loader crashed on {name}: {proc.stderr[-3000:]}"
    got = json.loads(proc.stdout)
    for loader, (kind, message) in got.items():
        if loader in ("native run", "capi run"):
            assert kind == expect["run_error"], (loader, kind, message)
            continue
        if loader == "numba" and "numba_error" in expect:  # a valid int8 file: native backend only
            assert kind == expect["numba_error"] and "int8" in message, (kind, message)
            continue
        assert kind == expect["error"], f"{loader}: {kind}: {message}"
        assert expect["message"].lower() in message.lower(), f"{loader}: {message}"
    native_message = got["attocore.load file"][1]
    assert got["capi file"][1] == native_message  # one validator: one message
    if expect["error"] == "ok":
        return
    cli = subprocess.run([sys.executable, "-m", "attocore", "run", path, os.path.join(DATA, "sample.ppm")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    runner = subprocess.run([str(cpp_build / "attocore-run"), path, os.path.join(DATA, "sample.ppm")],
                            capture_output=True, text=True, timeout=300)
    assert cli.returncode >= 0 and runner.returncode >= 0, "killed by a signal"
    assert cli.returncode == 1 and native_message in cli.stderr, cli.stderr[-2000:]
    assert runner.returncode == 1 and native_message in runner.stderr, runner.stderr[-2000:]


def test_every_issue_item_has_a_regression_file():
    reasons = " ".join(e["why"] for e in regressions().values())
    for item in ("#20.1", "#20.4", "#20.5", "#20.6"):
        assert item in reasons, item


LIMIT_CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import attocore
    m = attocore.load(sys.argv[1], max_arena_mb=1)
    print(m.arena_bytes(1), m.memory_bytes(1))
    try:
        m.run(np.zeros((1, 3, 1, 1), np.float32))
        print("ran")
    except attocore.ResourceLimitError as e:
        print("refused:", e)
    from attocore.testing.memory import peak_rss_bytes
    print(peak_rss_bytes() // 2**20)
""")


def test_scratch_counts_against_the_limit_before_it_is_allocated(tmp_path):
    """The huge-scratch regression file: a tiny arena, ~0.9 GB of stem scratch. Under a 1 MiB
    limit the run is refused and the process never grows by the scratch."""
    proc = subprocess.run([sys.executable, "-c", LIMIT_CHILD, os.path.join(REGRESSIONS, "huge-scratch-first-conv.atto")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    sizes, verdict, rss_mb = proc.stdout.splitlines()
    arena, memory = map(int, sizes.split())
    assert arena < 4096 and memory > 500 * 2**20, (arena, memory)
    assert verdict.startswith("refused:") and "scratch" in verdict, verdict
    assert int(rss_mb) < 400, f"peak RSS {rss_mb} MiB: the scratch was allocated"


def test_memory_bytes_is_what_the_limit_checks(rng):
    data = fmt.encode(zoo.seeded_graph("attonet-d", input_hw=96))
    need = attocore.load(data, threads=2).memory_bytes(2)
    x = rng.standard_normal((2, 3, 96, 96)).astype(np.float32)
    assert attocore.load(data, threads=2, max_arena_mb=need / 2**20).run(x).shape == (2, 51)
    with pytest.raises(attocore.ResourceLimitError, match="over the limit"):
        attocore.load(data, threads=2, max_arena_mb=(need - 64) / 2**20).run(x)
    c = capi.load(data, threads=2, max_arena_bytes=need)
    assert c.memory_bytes(2) == need and c.run(x).shape == (2, 51)
    with pytest.raises(attocore.ResourceLimitError):
        capi.load(data, threads=2, max_arena_bytes=need - 64).run(x)


def stress(model, inputs, serial, threads, rounds):
    errors = []

    def worker(k):
        for r in range(rounds):
            i = (k * 7 + r) % len(inputs)
            try:
                if not np.array_equal(model.run(inputs[i]), serial[i]):
                    errors.append((k, r, "differs"))
            except Exception as e:  # noqa: BLE001 - any failure is the finding
                errors.append((k, r, repr(e)))

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return errors


@pytest.mark.parametrize("binding", ["pybind", "capi"])
def test_stress_more_threads_than_cores_mixed_batches_bit_identical(rng, binding):
    """Issue #20 item 2: one model shared by 4x the cores' threads, batch sizes 1-4 mixed (the
    C binding got wrong results and crashed here), every result bit-identical to serial."""
    data = fmt.encode(zoo.seeded_graph("attonet-c", input_hw=64))
    load = attocore.load if binding == "pybind" else capi.load
    model = load(data, threads=2)
    inputs = [rng.standard_normal((1 + i % 4, 3, 64, 64)).astype(np.float32) for i in range(8)]
    serial = [model.run(x) for x in inputs]
    threads = 4 * (os.cpu_count() or 2)
    assert not stress(model, inputs, serial, threads, rounds=6)
    if binding == "pybind":
        # Idle sessions are bounded: one per core at most, however many threads called.
        assert model.executor.compiled.sessions <= max(1, os.cpu_count() or 1)


MEMORY_CHILD = textwrap.dedent("""
    import sys, threading
    import numpy as np
    import attocore
    from attocore import format as fmt
    from attocore.graph import Graph, Metadata, Op, Tensor
    # Big activations, few multiply-adds: 3x384x384 -> 32 channels (18 MiB per tensor).
    w = np.full((32, 3, 1, 1), 0.1, np.float32)
    t = {"x": Tensor("x", (1, 3, 384, 384)), "w": Tensor("w", w.shape, w), "y": Tensor("y", (1, 32, 384, 384)),
         "z": Tensor("z", (1, 32, 384, 384)), "g": Tensor("g", (1, 32))}
    ops = [Op("conv2d", "c", ["x", "w"], ["y"], {"kernel": (1, 1), "stride": (1, 1), "pad": (0, 0, 0, 0),
                                                 "groups": (1,)}),
           Op("activation", "a", ["y"], ["z"], {}, "relu"), Op("global_avgpool", "p", ["z"], ["g"])]
    data = fmt.encode(Graph(Metadata(input_shape=(3, 384, 384)), t, ops, ["x"], ["g"]))
    one = attocore.load(data, threads=1).memory_bytes(1)
    limit = 1.5 * one / 2**20  # two sessions (one per core here) cannot both hold a run
    model = attocore.load(data, threads=1, max_arena_mb=limit)
    x = np.ones((1, 3, 384, 384), np.float32)
    peak = [0]
    def worker():
        for _ in range(4):
            model.run(x)
            peak[0] = max(peak[0], model.executor.compiled.memory_in_use)
    from attocore.testing.memory import peak_rss_bytes
    base = peak_rss_bytes()
    pool = [threading.Thread(target=worker) for _ in range(8)]
    for p in pool: p.start()
    for p in pool: p.join()
    grown = peak_rss_bytes() - base
    print(one, int(limit * 2**20), peak[0], model.executor.compiled.memory_limit, grown)
""")


def test_memory_under_concurrency_is_bounded_by_the_limit(tmp_path):
    """Issue #20 item 6: the limit is the model's, not each session's. Eight threads on a model
    whose run needs M bytes, under a 1.5 M limit: the sessions never hold more than the limit
    together (they held one plan each: 8 M)."""
    proc = subprocess.run([sys.executable, "-c", MEMORY_CHILD], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one, limit, peak, reported_limit, grown = map(int, proc.stdout.split())
    assert reported_limit == limit
    assert one <= peak <= limit
    assert grown < limit + 64 * 2**20, f"RSS grew {grown / 2**20:.0f} MiB under a {limit / 2**20:.0f} MiB limit"


@pytest.mark.parametrize("bad, error", [("2", TypeError), (2.0, TypeError), (None, TypeError), (True, TypeError),
                                        (-1, ValueError), (257, ValueError), (20000, ValueError),
                                        (2**31, ValueError), (2**200, ValueError)])
def test_thread_counts_are_validated_everywhere(bad, error):
    """An int in [0, 256] (0: all cores): anything else a short TypeError or ValueError that
    never repeats the call's arguments (pybind's own TypeError printed the model's bytes)."""
    data = fmt.encode(zoo.seeded_graph("attonet-d", input_hw=32))
    for fn in (lambda: attocore.load(data, threads=bad), lambda: capi.load(data, threads=bad),
               lambda: attocore.run(data, np.zeros((1, 3, 32, 32), np.float32), threads=bad),
               lambda: attocore._core.load_bytes(data, bad)):
        with pytest.raises(error, match="threads") as info:
            fn()
        assert len(str(info.value)) < 120 and "ATTOCORE" not in str(info.value), str(info.value)[:300]
    assert attocore.load(data, threads=256).threads == 256


def test_other_scalar_arguments_of_the_native_loader_never_print_the_bytes():
    data = fmt.encode(zoo.seeded_graph("attonet-d", input_hw=32))
    for kwargs in ({"force_reference": "yes"}, {"max_arena_bytes": -1}, {"max_arena_bytes": "1"}):
        with pytest.raises((TypeError, ValueError)) as info:
            attocore._core.load_bytes(data, 0, **kwargs)
        assert len(str(info.value)) < 120, str(info.value)[:300]
    with pytest.raises(ValueError, match="max_arena_mb"):
        attocore.load(data, max_arena_mb=-1)


def test_nul_in_a_path_is_refused_not_truncated(tmp_path):
    path = tmp_path / "m.atto"
    path.write_bytes(fmt.encode(zoo.seeded_graph("attonet-d", input_hw=32)))
    for fn in (attocore.load, capi.load, attocore._core.load_file):
        with pytest.raises(ValueError, match="null byte"):
            fn(f"{path}\0ignored")


def test_capi_checks_the_input_buffer_size():
    """Issue #20 item 8: attocore_session_run_checked takes the input's size."""
    data = fmt.encode(zoo.seeded_graph("attonet-d", input_hw=32))
    m = capi.load(data, threads=1)
    lib, ffi = capi.lib(), capi.ffi()
    out = np.empty((1, 51), np.float32)
    x = np.zeros((1, 3, 32, 32), np.float32)
    for count in (0, x.size - 1, x.size + 1):
        status = lib.attocore_session_run_checked(m._session, ffi.cast("const float*", x.ctypes.data), count, 1,
                                                  ffi.cast("float*", out.ctypes.data), out.size)
        assert status == 5 and b"input buffer holds" in ffi.string(lib.attocore_last_error())
    assert lib.attocore_session_run_checked(m._session, ffi.cast("const float*", x.ctypes.data), x.size, 1,
                                            ffi.cast("float*", out.ctypes.data), out.size) == 0
