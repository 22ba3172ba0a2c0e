"""precision= on load (and --precision on the CLI): "fp32" is the default and behaves as
before; "fp16" runs the ARMv8.2 fp16 kernels only on a core with FEAT_FP16 (tested under qemu
in tests/test_arm.py) and is refused here, on x86, with a ConfigError that names the missing
feature and suggests fp32; anything else is a ValueError."""
import platform
import subprocess
import sys

import numpy as np
import pytest

import attocore
from attocore.errors import ConfigError

X86 = platform.machine().lower() in ("x86_64", "amd64")


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


@pytest.mark.parametrize("bad", ["bf16", "FP16", "", None, 16])
def test_unknown_precision_is_a_value_error(bad):
    with pytest.raises(ValueError, match="precision"):
        attocore.load("attonet-d", precision=bad)


def test_fp16_is_a_native_backend_option():
    with pytest.raises(ValueError, match="native"):
        attocore.load("attonet-d", backend="numba", precision="fp16")


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
    bad = subprocess.run([sys.executable, "-m", "attocore", *command, "--precision", "bf16"], capture_output=True,
                         text=True, timeout=300, cwd=tmp_path)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
