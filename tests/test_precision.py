"""precision= on load (and --precision on the CLI): "fp32" is the default and behaves as
before; "fp16" runs the ARMv8.2 fp16 kernels only on a core with FEAT_FP16 (tested under qemu
in tests/test_arm.py) and is refused here, on x86, with a ConfigError that names the missing
feature and suggests fp32; "bf16" runs the AVX512-BF16 kernels only on a CPU that has them
and is refused elsewhere alike (its nets' error is measured on the emulated kernels here,
tests/cpp/test_bf16_nets.cpp); anything else is a ValueError."""
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

import attocore
from attocore import format as fmt
from attocore import zoo
from attocore.backends import native
from attocore.errors import ConfigError

X86 = platform.machine().lower() in ("x86_64", "amd64")
BF16, BF16_WHY_NOT = native.precision_support("bf16")
# README, "Precision": measured 0.39-0.62% of the largest logit on AttoNet-A..D (emulated
# kernels, tests/cpp/test_bf16_nets.cpp, which asserts the same bound).
BF16_LOGIT_BOUND = 2e-2


def test_default_and_fp32_are_the_same():
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    default, fp32 = attocore.load("attonet-d"), attocore.load("attonet-d", precision="fp32")
    assert default.precision == fp32.precision == "fp32"
    assert np.array_equal(default.run(x), fp32.run(x))


@pytest.mark.skipif(not X86, reason="checks the refusal on x86 (no FEAT_FP16); on ARM fp16 runs, tested in test_arm.py")
def test_fp16_refused_on_x86_with_the_reason():
    with pytest.raises(ConfigError) as e:
        attocore.load("attonet-d", precision="fp16")
    msg = str(e.value)
    assert "FEAT_FP16" in msg and "x86" in msg and 'use precision "fp32"' in msg and "bf16" in msg


@pytest.mark.parametrize("bad", ["bf8", "BF16", "FP16", "", None, 16])
def test_unknown_precision_is_a_value_error(bad):
    with pytest.raises(ValueError, match="precision"):
        attocore.load("attonet-d", precision=bad)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_half_precisions_are_native_backend_options(precision):
    with pytest.raises(ValueError, match="native"):
        attocore.load("attonet-d", backend="numba", precision=precision)


@pytest.mark.skipif(BF16, reason="the CPU has AVX512-BF16: bf16 runs (test_bf16_within_bound_of_fp32)")
def test_bf16_refused_without_avx512_bf16_with_the_reason():
    with pytest.raises(ConfigError) as e:
        attocore.load("attonet-d", precision="bf16")
    msg = str(e.value)
    assert "AVX512-BF16" in msg and 'use precision "fp32"' in msg and msg == BF16_WHY_NOT, msg
    if X86:  # which CPUs have it, so the user knows where it would run
        assert "Sapphire Rapids" in msg and "Zen 4" in msg


@pytest.mark.skipif(not BF16, reason=f"bf16 kernels not run here: {BF16_WHY_NOT}")
@pytest.mark.parametrize("name", ["attonet-a", "attonet-b", "attonet-c", "attonet-d"])
def test_bf16_within_bound_of_fp32(name):
    x = np.random.default_rng(3).standard_normal((1, 3, 224, 224)).astype(np.float32)
    fp32, bf16 = attocore.load(name, threads=1), attocore.load(name, threads=1, precision="bf16")
    assert bf16.precision == "bf16"
    want, got = fp32.run(x), bf16.run(x)
    err, peak = float(np.abs(got - want).max()), float(np.abs(want).max())
    assert err <= BF16_LOGIT_BOUND * peak, f"{name}: bf16 logits off by {err} (largest {peak})"
    assert not np.array_equal(got, want)  # the bf16 kernels ran, not fp32 ones


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return []


AMX = BF16 and {"amx_bf16", "amx_tile"} <= set(_cpu_flags())


@pytest.mark.skipif(not AMX, reason="the CPU (or /proc/cpuinfo) shows no AMX-BF16: bf16 runs on AVX512-BF16 or not at all")
def test_bf16_takes_the_amx_kernels_where_the_cpu_has_them():
    """Every GEMM step of a bf16 AttoNet-D names an AMX kernel (the AVX512-BF16 ones ran at half
    fp32's speed on the Xeon with AMX measured), and 2 threads give 1 thread's bits."""
    x = np.random.default_rng(5).standard_normal((1, 3, 224, 224)).astype(np.float32)
    one, two = attocore.load("attonet-d", threads=1, precision="bf16"), attocore.load("attonet-d", threads=2, precision="bf16")
    _, steps = one.profile(x)
    gemm_steps = [s.kernel for s in steps if "gemm" in s.kernel]
    assert gemm_steps and all("amxbf16" in k for k in gemm_steps), gemm_steps
    got1 = one.run(x)
    assert np.array_equal(got1, two.run(x))
    want = attocore.load("attonet-d", threads=1).run(x)
    assert float(np.abs(got1 - want).max()) <= BF16_LOGIT_BOUND * float(np.abs(want).max())


@pytest.mark.skipif(not BF16, reason=f"bf16 kernels not run here: {BF16_WHY_NOT}")
def test_bf16_runs_on_a_thread_with_a_small_stack():
    """A bf16 run from a Python thread with the smallest stack Python allows (32 KiB), in a
    child process: the AMX row kernel once kept its 32 KiB A copy on the stack and faulted."""
    script = ("import threading, numpy as np, attocore\n"
              "m = attocore.load('attonet-a', threads=1, precision='bf16')\n"
              "threading.stack_size(32768)\n"
              "out = []\n"
              "t = threading.Thread(target=lambda: out.append(m.run(np.zeros((1, 3, 224, 224), np.float32))))\n"
              "t.start(); t.join()\n"
              "print('ok' if out and out[0].shape[0] == 1 and np.isfinite(out[0]).all() else 'no output')\n")
    proc = subprocess.run([sys.executable, "-P", "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", (proc.returncode, proc.stderr[-2000:])


def test_bf16_nets_within_bound_on_the_emulated_kernels(cpp_build, tmp_path):
    """AttoNet-A..D through tests/cpp/test_bf16_nets (emulated bf16 kernels on any AVX-512F
    CPU, the native ones where the CPU has AVX512-BF16): within BF16_LOGIT_BOUND of fp32."""
    paths = []
    for name in ("attonet-a", "attonet-b", "attonet-c", "attonet-d"):
        paths.append(str(tmp_path / f"{name}.atto"))
        fmt.save(zoo.seeded_graph(name), paths[-1])
    proc = subprocess.run([str(cpp_build / "test_bf16_nets")], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, ATTOCORE_BF16_NETS=":".join(paths)))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    skipped = [line for line in proc.stdout.splitlines() if line.startswith("skipped: emulated bf16 kernels")]
    if skipped:
        pytest.skip(skipped[0])
    for name in ("attonet-a", "attonet-b", "attonet-c", "attonet-d"):
        assert f"{name}.atto: bf16 (emulated kernels)" in proc.stdout, proc.stdout
    assert ("native kernels)" in proc.stdout) == BF16, proc.stdout


def test_int8_model_keeps_its_precision_with_fp32(tmp_path):
    calib = [np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)]
    out = tmp_path / "d8.atto"
    attocore.quantize("attonet-d", calib, out=str(out), quiet=True)
    assert attocore.load(str(out), precision="fp32").precision == "int8"


@pytest.mark.skipif(not X86, reason="checks the refusal on x86 (no FEAT_FP16); on ARM fp16 runs, tested in test_arm.py")
@pytest.mark.parametrize("command", [["run", "attonet-d"], ["bench", "attonet-d", "--runs", "1", "--warmup", "0"]])
def test_cli_precision_fp16_refused_on_x86(command, tmp_path):
    # Outside the source tree: from the repository, `-m attocore` imports its uncompiled package.
    proc = subprocess.run([sys.executable, "-m", "attocore", *command, "--precision", "fp16"], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode != 0 and "FEAT_FP16" in proc.stderr, proc.stderr
    bad = subprocess.run([sys.executable, "-m", "attocore", *command, "--precision", "bf8"], capture_output=True,
                         text=True, timeout=300, cwd=tmp_path)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


@pytest.mark.skipif(BF16, reason="the CPU has AVX512-BF16: --precision bf16 runs")
@pytest.mark.parametrize("command", [["run", "attonet-d"], ["bench", "attonet-d", "--runs", "1", "--warmup", "0"]])
def test_cli_precision_bf16_refused_without_avx512_bf16(command, tmp_path):
    # Outside the source tree, as above.
    proc = subprocess.run([sys.executable, "-m", "attocore", *command, "--precision", "bf16"], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode != 0 and "AVX512-BF16" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.skipif(not BF16, reason=f"bf16 kernels not run here: {BF16_WHY_NOT}")
def test_cli_precision_bf16_runs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "attocore", "bench", "attonet-d", "--runs", "2", "--warmup", "0",
                           "--precision", "bf16"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
