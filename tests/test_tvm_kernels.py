"""TVM-generated layer kernels inside the native executor: `attocore export-tvm` writes one
object per fused layer function, attocore-run is built with them (-DATTOCORE_TVM_KERNELS)
and runs chosen layers with them (--tvm-layers); the logits must match the hand-written
kernels'. On x86 with tuned AttoNet-D schedules (parallel loops: this drives the runtime
shim's thread pool): the records shipped for this host's CPU, or, on a CPU none were tuned
on, a minimal session run here first; and for aarch64 under qemu."""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from attocore import format as fmt
from attocore import zoo
from attocore.backends.tvm.records import find_records
from cmake_build import ROOT, build

pytest.importorskip("tvm")
SAMPLE = os.path.join(ROOT, "tests", "data", "sample.ppm")
# The 1x1 and grouped 3x3 layers of the first modules, a projection, and a residual add.
SOME_LAYERS = "m1.group,m1.mix,m1.decompress,m1.project,m2.group,m2.decompress,m5.group"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("tvm-kernels") / "attonet-d.atto"
    fmt.save(zoo.seeded_graph("attonet-d"), path)
    return str(path)


def export(out, target, *flags):
    proc = subprocess.run([sys.executable, "-m", "attocore", "export-tvm", "attonet-d", "--target", target,
                           "-o", str(out), "--kernels-only", *flags], capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def run(prefix, runner, model, *flags):
    proc = subprocess.run(prefix + [runner, model, SAMPLE, "--top", "51", *flags], capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr
    logits = {int(m.group(1)): float(m.group(2)) for m in re.finditer(r"index (\d+)\s+p=\S+ logit=(\S+)", proc.stdout)}
    steps = re.search(r"TVM kernels: (\d+) steps", proc.stdout)
    return np.array([logits[i] for i in sorted(logits)]), int(steps.group(1)) if steps else 0


def close(a, b):
    return np.abs(a - b).max() <= 1e-4 * np.abs(b).max() + 1e-5


def host_records_flags(tmp_path_factory):
    """export-tvm flags that find tuned AttoNet-D records for this host: none when records for
    its CPU are shipped (or in ./tuning); else a 4-trials-per-task session into a temporary root."""
    if find_records("attonet-d", "host") is not None:
        return []
    root = tmp_path_factory.mktemp("tune-host")
    proc = subprocess.run([sys.executable, "-m", "attocore", "tune", "attonet-d", "--trials", "4", "--work-dir",
                           str(root)], capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert find_records("attonet-d", "host", root=root) is not None
    return ["--records", str(root)]


def test_tvm_kernels_in_native_executor_x86(model, tmp_path_factory):
    out = tmp_path_factory.mktemp("export-host")
    log = export(out, "host", "--tuned", *host_records_flags(tmp_path_factory))
    assert "functions scheduled" in log
    objects = list((out / "kernels").glob("*.o"))
    assert objects and (out / "tvm_kernels.cpp").is_file()
    # Tuned kernels run parallel loops through the shim's TVMBackendParallelLaunch.
    assert "TVMBackendParallelLaunch" in subprocess.run(["nm"] + [str(o) for o in objects],
                                                        capture_output=True, text=True).stdout
    d = tmp_path_factory.mktemp("build-tvm-host")
    build(d, "-DCMAKE_BUILD_TYPE=Release", f"-DATTOCORE_TVM_KERNELS={out}", targets=["attocore-run"])
    runner = str(d / "attocore-run")
    native, n = run([], runner, model)
    assert n == 0 and native.size == 51
    for threads in ("1", "2"):
        every, n_all = run([], runner, model, "--tvm-layers", "all", "--threads", threads)
        assert n_all == 69 and close(every, native)  # every convolution (16 with their residual add)
    some, n_some = run([], runner, model, "--tvm-layers", SOME_LAYERS)
    assert n_some == len(SOME_LAYERS.split(",")) and close(some, native)
    # Asking for a layer no linked kernel computes is an error, not a silent fallback.
    proc = subprocess.run([runner, model, SAMPLE, "--tvm-layers", "m1.nope"], capture_output=True, text=True)
    assert proc.returncode == 1 and "no linked TVM kernel computes op 'm1.nope'" in proc.stderr


def test_tvm_kernels_under_qemu_aarch64(model, tmp_path_factory):
    qemu = ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]
    assert shutil.which(qemu[0]) and shutil.which("aarch64-linux-gnu-g++"), "cross compiler / qemu missing"
    out = tmp_path_factory.mktemp("export-aarch64")
    export(out, "aarch64")
    d = tmp_path_factory.mktemp("build-tvm-aarch64")
    toolchain = os.path.join(ROOT, "cmake", "toolchains", "aarch64-linux-gnu.cmake")
    build(d, f"-DCMAKE_TOOLCHAIN_FILE={toolchain}", "-DCMAKE_BUILD_TYPE=Release", f"-DATTOCORE_TVM_KERNELS={out}",
          targets=["attocore-run"])
    runner = str(d / "attocore-run")
    native, _ = run(qemu, runner, model)
    some, n = run(qemu, runner, model, "--tvm-layers", SOME_LAYERS)
    assert n == len(SOME_LAYERS.split(",")) and close(some, native)
