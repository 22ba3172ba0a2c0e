"""Bad input gets a clear exception naming the problem, never a crash.

Each malformed file is given both to the Python reader and straight to the native loader
(bypassing the Python checks), inside a subprocess so a crash would show as a dead child.
"""
import json
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import attocore
from attocore import format as fmt
from attocore import zoo
from attocore.graph import Tensor


def refix(data: bytes) -> bytes:
    """Recompute the checksum so the checks behind it are reached."""
    buf = bytearray(data)
    struct.pack_into("<I", buf, fmt.CRC_OFFSET, 0)
    struct.pack_into("<I", buf, fmt.CRC_OFFSET, fmt.checksum(buf))
    return bytes(buf)


def tensor_record(data: bytes, name: str) -> int:
    """Byte position just after a tensor's name in the graph section."""
    key = struct.pack("<I", len(name)) + name.encode()
    pos = data.index(key, fmt.HEADER_SIZE) + len(key)
    return pos


def with_tensor_offset(data: bytes, name: str, offset: int) -> bytes:
    pos = tensor_record(data, name)
    ndim = struct.unpack_from("<H", data, pos + 2)[0]
    buf = bytearray(data)
    struct.pack_into("<Q", buf, pos + 4 + 8 * ndim, offset)
    return refix(bytes(buf))


def with_op_code(data: bytes, op_name: str, code: int) -> bytes:
    key = struct.pack("<I", len(op_name)) + op_name.encode()
    pos = data.index(key, fmt.HEADER_SIZE) - 4  # u16 code, u8 activation, u8 reserved precede the name
    buf = bytearray(data)
    struct.pack_into("<H", buf, pos, code)
    return refix(bytes(buf))


def bad_files():
    good = fmt.encode(zoo.seeded_graph("attonet-d"))
    cases = {
        "empty": (b"", "too small"),
        "truncated": (good[: len(good) // 2], "truncated"),
        "header only": (good[:64], "truncated"),
        "wrong magic": (b"NOTATTO!" + good[8:], "magic"),
        "flipped byte": (good[:5000] + bytes([good[5000] ^ 0x40]) + good[5001:], "checksum"),
        "unknown version": (refix(good[:8] + struct.pack("<I", 7) + good[12:]), "version"),
        "offset past the end": (with_tensor_offset(good, "fc.bias", 1 << 40), "data"),
        "misaligned offset": (with_tensor_offset(good, "fc.bias", 4), "data"),
        "unknown op": (with_op_code(good, "gap", 99), "unknown op"),
    }
    g = zoo.seeded_graph("attonet-d")
    g.tensors["logits"] = Tensor("logits", (1 << 20, 1 << 20, 1 << 20))
    cases["overflowing shape"] = (fmt.encode(g), "elements")
    g = zoo.seeded_graph("attonet-d")
    g.tensors["gap.out"] = Tensor("gap.out", (1, 1 << 40))
    cases["huge dimension"] = (fmt.encode(g), "dimension")
    g = zoo.seeded_graph("attonet-d")
    g.tensors["m2.group.out"] = Tensor("m2.group.out", (1, 20, 56, 55))
    cases["inconsistent shape"] = (fmt.encode(g), "shape")
    g = zoo.seeded_graph("attonet-d")
    g.ops[5].attrs["groups"] = (3,)
    cases["bad groups"] = (fmt.encode(g), "groups")
    g = zoo.seeded_graph("attonet-d")
    g.ops[3], g.ops[4] = g.ops[4], g.ops[3]
    cases["ops out of order"] = (fmt.encode(g), "not defined")
    return cases


CHILD = textwrap.dedent("""
    import json, sys
    import attocore
    from attocore import _core, format as fmt
    data = open(sys.argv[1], "rb").read()
    out = {}
    for name, loader in [("python", fmt.decode), ("native", _core.load_bytes)]:
        try:
            loader(data)
            out[name] = ["loaded", ""]
        except Exception as e:
            out[name] = [type(e).__name__, str(e)]
    print(json.dumps(out))
""")


@pytest.mark.parametrize("case", list(bad_files()))
def test_malformed_file_is_refused_in_subprocess(tmp_path, case):
    data, expected = bad_files()[case]
    path = tmp_path / "bad.atto"
    path.write_bytes(data)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)  # not the source tree: import the installed package
    assert proc.returncode == 0, f"process died on '{case}': {proc.stderr[-2000:]}"
    result = json.loads(proc.stdout)
    for side in ("python", "native"):
        kind, message = result[side]
        assert kind in ("FormatError", "ResourceLimitError", "GraphError", "UnsupportedOpError"), f"{side}: {kind}: {message}"
        assert expected.lower() in message.lower(), f"{side} message for '{case}' does not name it: {message}"


def test_unknown_op_error_names_the_op():
    data, _ = bad_files()["unknown op"]
    with pytest.raises(attocore.UnsupportedOpError, match="gap.*99"):
        fmt.decode(data)


def test_missing_file_and_public_load():
    with pytest.raises(FileNotFoundError):
        attocore.load("/nonexistent/model.atto")
    with pytest.raises(attocore.FormatError, match="checksum"):
        attocore.load(bad_files()["flipped byte"][0])


@pytest.mark.parametrize("backend", ["native", "numba"])
def test_wrong_image_size_and_dtype(backend):
    m = attocore.load("attonet-d", backend=backend)
    with pytest.raises(attocore.InputError, match="shape"):
        m.run(np.zeros((1, 4, 224, 224), np.float32))  # the channel count is the file's
    # Another height and width re-plans the fully convolutional net (README, Input sizes).
    assert m.run(np.zeros((1, 3, 100, 100), np.float32)).shape == (1, 51)
    with pytest.raises(attocore.InputError, match="shape"):
        m.run(np.zeros((3, 224, 224), np.float32))
    with pytest.raises(attocore.InputError, match="dtype"):
        m.run(np.zeros((1, 3, 224, 224), np.float64))
    with pytest.raises(attocore.InputError, match="dtype"):
        m.run(np.zeros((1, 3, 224, 224), np.int32))
    with pytest.raises(attocore.InputError, match="NaN"):
        m.run(np.full((1, 3, 224, 224), np.nan, np.float32))
    for bad in (np.nan, np.inf, -np.inf):  # one bad pixel among finite ones
        x = np.zeros((1, 3, 224, 224), np.float32)
        x[0, 2, 100, 7] = bad
        with pytest.raises(attocore.InputError, match="NaN"):
            m.run(x)
    with pytest.raises(attocore.InputError, match="HxWx3"):
        attocore.run(m, np.zeros((10, 10, 4), np.uint8))
    with pytest.raises(attocore.InputError, match="uint8"):
        attocore.run(m, np.zeros((10, 10, 3), np.int16))


def test_native_module_checks_input_itself():
    """The binding refuses bad input even when the Python-side checks are bypassed."""
    m = attocore.load("attonet-d")
    with pytest.raises(attocore.InputError, match="shape"):
        m.executor.run(np.zeros((1, 3, 224, 225), np.float32))
    with pytest.raises(attocore.InputError, match="dtype"):
        m.executor.run(np.zeros((1, 3, 224, 224), np.float64))


def test_undecodable_image_file(tmp_path):
    p = tmp_path / "broken.jpg"
    p.write_bytes(b"\xff\xd8 this is not a jpeg")
    with pytest.raises(attocore.InputError, match="cannot decode"):
        attocore.run("attonet-d", str(p))


def test_an_image_that_is_a_fifo_or_directory_is_refused_without_blocking(tmp_path):
    """Opening a FIFO for reading waits for a writer: `attocore run` used to hang on one."""
    fifo = tmp_path / "cat.jpg"
    os.mkfifo(fifo)
    proc = subprocess.run([sys.executable, "-m", "attocore", "run", "attonet-d", str(fifo)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert f"error: '{fifo}' is not a regular file" in proc.stderr and "Traceback" not in proc.stderr
    with pytest.raises(attocore.InputError, match="is not a regular file"):
        attocore.run("attonet-d", str(tmp_path))


def test_runner_refuses_a_fifo_image_tensor_or_plan(tmp_path, cpp_build):
    model = tmp_path / "d.atto"
    fmt.save(zoo.seeded_graph("attonet-d"), str(model))
    tensor = tmp_path / "x.f32"
    np.zeros((1, 3, 224, 224), np.float32).tofile(tensor)
    for name, args in (("img.ppm", lambda f: [f]), ("x.f32", lambda f: [f]),
                       ("plan.txt", lambda f: [str(tensor), "--plan", f])):
        fifo = str(tmp_path / f"fifo-{name}")
        os.mkfifo(fifo)
        proc = subprocess.run([str(cpp_build / "attocore-run"), str(model)] + args(fifo), capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 1, (name, proc.stderr)
        assert f"'{fifo}' is not a regular file" in proc.stderr, (name, proc.stderr)


def test_a_fifo_plan_or_labels_file_is_refused_without_blocking(tmp_path):
    plan, labels = tmp_path / "p.plan", tmp_path / "labels.txt"
    os.mkfifo(plan)
    os.mkfifo(labels)
    from attocore.errors import PlanError
    with pytest.raises(PlanError, match="is not a regular file"):
        attocore.load("attonet-d", plan=str(plan))
    proc = subprocess.run([sys.executable, "-m", "attocore", "convert", str(tmp_path / "none.onnx"),
                           str(tmp_path / "out.atto"), "--labels", str(labels)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 1 and f"'{labels}' is not a regular file" in proc.stderr, proc.stderr[-2000:]


@pytest.mark.parametrize("target", ["fifo", "device"])
def test_an_output_that_is_a_fifo_or_device_is_refused_before_any_work(tmp_path, target):
    """The atomic write would replace the node itself (as root, /dev/null too), and a FIFO
    took the report only after the whole calibration."""
    if target == "fifo":
        out = tmp_path / "report.png"
        os.mkfifo(out)
        args = ["-o", str(tmp_path / "q.atto"), "--report", str(out)]
    else:
        out = "/dev/null"
        args = ["-o", out]
    proc = subprocess.run([sys.executable, "-m", "attocore", "quantize", "attonet-d", "--calib-random", "2"] + args,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert f"error: output '{out}' exists and is not a regular file" in proc.stderr
    assert not (tmp_path / "q.atto").exists()
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")
