"""Hardening: concurrency, resource limits, leaks and lifetimes, stable errors across the
Python API, the C API and attocore-run, and the fuzzers' regression inputs."""
import gc
import glob
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
    """Every input the fuzzers ever crashed on (none so far) and the seed corpus."""
    subprocess.run([sys.executable, os.path.join(os.path.dirname(DATA), "..", "fuzz", "make_corpus.py"),
                    str(tmp_path)], check=True, capture_output=True)
    files = sorted(glob.glob(os.path.join(DATA, "regressions", "*"))) + sorted(glob.glob(str(tmp_path / "*")))
    assert len(files) >= 5
    for f in files:
        data = open(f, "rb").read()
        try:
            m = attocore.load(data)
        except attocore.AttocoreError:
            continue
        c, h, w = m.input_shape
        assert np.isfinite(m.run(np.zeros((1, c, h, w), np.float32))).all()
