"""TVM-generated layer kernels inside the native executor: `attocore export-tvm` writes one
object per fused layer function, attocore-run is built with them (-DATTOCORE_TVM_KERNELS)
and runs chosen layers with them (--tvm-layers); the logits must match the hand-written
kernels'. On x86 with tuned AttoNet-D schedules (parallel loops: this drives the runtime
shim's thread pool): the records shipped for this host's CPU, or, on a CPU none were tuned
on, a minimal session run here first; and for aarch64 under qemu."""
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from attocore import format as fmt
from attocore import zoo
from attocore.backends.tvm.records import find_records, resolve_records
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
    its CPU, or for a CPU of a compatible instruction set, are shipped (or in ./tuning); else a
    4-trials-per-task session into a temporary root."""
    if resolve_records("attonet-d", "host").records_dir is not None:
        return []
    root = tmp_path_factory.mktemp("tune-host")
    proc = subprocess.run([sys.executable, "-m", "attocore", "tune", "attonet-d", "--trials", "4", "--work-dir",
                           str(root)], capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert find_records("attonet-d", "host", root=root) is not None
    return ["--records", str(root)]


@pytest.fixture(scope="module")
def host_build(tmp_path_factory):
    """AttoNet-D's tuned x86 TVM kernels exported, and attocore-run and the Python module built
    with them: (export dir, build dir, export log)."""
    out = tmp_path_factory.mktemp("export-host")
    log = export(out, "host", "--tuned", *host_records_flags(tmp_path_factory))
    d = tmp_path_factory.mktemp("build-tvm-host")
    import pybind11
    build(d, "-DCMAKE_BUILD_TYPE=Release", f"-DATTOCORE_TVM_KERNELS={out}", "-DATTOCORE_BUILD_TESTS=OFF",
          "-DATTOCORE_BUILD_PYTHON=ON", f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
          f"-DPython_EXECUTABLE={sys.executable}", targets=["attocore-run", "_core"])
    return out, d, log


def test_tvm_kernels_in_native_executor_x86(model, host_build):
    out, d, log = host_build
    assert "functions scheduled" in log
    objects = list((out / "kernels").glob("*.o"))
    assert objects and (out / "tvm_kernels.cpp").is_file()
    # Tuned kernels run parallel loops through the shim's TVMBackendParallelLaunch.
    assert "TVMBackendParallelLaunch" in subprocess.run(["nm"] + [str(o) for o in objects],
                                                        capture_output=True, text=True).stdout
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


# Loads the Python module built with the TVM kernels in place of the installed one, then
# runs the model with a plan and prints the logits and the profile's kernels as JSON.
PLAN_RUNNER = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("attocore._core", sys.argv[1])
core = importlib.util.module_from_spec(spec)
sys.modules["attocore._core"] = core
spec.loader.exec_module(core)
import numpy as np, attocore
x = np.fromfile(sys.argv[4], np.float32).reshape(1, 3, 224, 224)
m = attocore.load(sys.argv[2], plan=sys.argv[3], threads=1)
logits, steps = m.profile(x)
print(json.dumps({"logits": logits[0].tolist(), "kernels": {s[0]: s[1] for s in steps},
                  "plain": attocore.load(sys.argv[2]).run(x)[0].tolist()}))
"""


def test_plan_chosen_by_measurement(model, host_build, tmp_path):
    """tune-plan times every step both ways in attocore-run and writes a plan naming the
    faster kernel with both times; attocore-run --plan and attocore.load(plan=) apply it."""
    from attocore.backends.tvm.plan import read_plan
    out, d, _ = host_build
    runner = str(d / "attocore-run")
    plan_path = tmp_path / "d.plan"
    proc = subprocess.run([sys.executable, "-m", "attocore", "tune-plan", model, "--runner", runner, "--kernels",
                           str(out), "--runs", "3", "--work-dir", str(tmp_path / "work"), "-o", str(plan_path)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    plan = read_plan(plan_path)
    assert plan.model == "attonet-d"
    switchable = [s for s in plan.steps if s.tvm_ms is not None]
    assert len(switchable) >= 16  # every module's fused chain can go to TVM whole
    for s in plan.steps:
        assert s.native_ms > 0
        if s.tvm_ms is None or abs(s.tvm_ms - 0.98 * s.native_ms) > 1e-4:  # the file rounds to 1e-5 ms
            assert s.choice == ("tvm" if s.tvm_ms is not None and s.tvm_ms < 0.98 * s.native_ms else "native")
    assert float(plan.notes["plan total ms"]) > 0 and "all-TVM total ms" in plan.notes

    # The measured plan runs in attocore-run; so does one sending two module chains to TVM.
    measured, n = run([], runner, model, "--plan", str(plan_path))
    assert n == sum(len(s.layers) for s in plan.steps if s.choice == "tvm")
    native, _ = run([], runner, model)
    assert close(measured, native)
    for s in switchable[:2]:
        s.choice = "tvm"
    for s in switchable[2:]:
        s.choice = "native"
    forced = tmp_path / "forced.plan"
    plan.write(forced)
    mixed, n = run([], runner, model, "--plan", str(forced))
    assert n == sum(len(s.layers) for s in switchable[:2]) and close(mixed, native)
    prof = subprocess.run([runner, model, SAMPLE, "--plan", str(forced), "--profile", "2"], capture_output=True,
                          text=True, timeout=300).stdout
    tvm_steps = [line.split("\t")[1] for line in prof.splitlines() if line.startswith("step\t") and "\ttvm:" in line]
    assert sorted(tvm_steps) == sorted("+".join(k) for k in kernel_ops(out)
                                       if k[0] in {x for s in switchable[:2] for x in s.layers})

    # attocore.load(plan=) with the module built with the kernels: the profile shows them.
    x = tmp_path / "x.f32"
    np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32).tofile(x)
    core = next(d.glob("_core*.so"))
    proc = subprocess.run([sys.executable, "-c", PLAN_RUNNER, str(core), model, str(forced), str(x)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.splitlines()[-1])
    assert sum(k.startswith("tvm:") for k in got["kernels"].values()) == len(tvm_steps)
    assert close(np.array(got["logits"]), np.array(got["plain"]))
    # A plan for another model is refused.
    other = tmp_path / "other.plan"
    other.write_text(forced.read_text().replace(f"# model: {plan.model}", "# model: SomethingElse"))
    proc = subprocess.run([runner, model, SAMPLE, "--plan", str(other)], capture_output=True, text=True)
    assert proc.returncode == 1 and "is a plan for 'SomethingElse'" in proc.stderr


def kernel_ops(export_dir):
    return [k["ops"] for k in json.loads((export_dir / "kernels.json").read_text())["kernels"]]


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
