"""attocore.capi (cffi, ABI mode, over libattocore.so) against the pybind11 module."""
import numpy as np
import pytest

import attocore
from attocore import capi, zoo
from attocore import format as fmt
from conftest import NETS


@pytest.mark.parametrize("name", NETS)
def test_capi_and_pybind_agree_exactly(tmp_path, name, rng):
    path = tmp_path / f"{name}.atto"
    fmt.save(zoo.seeded_graph(name, seed=7), path)
    x = rng.standard_normal((2, 3, 224, 224)).astype(np.float32)
    via_c = capi.load(str(path), threads=2)
    via_pybind = attocore.load(str(path), threads=2)
    assert np.array_equal(via_c.run(x), via_pybind.run(x))
    assert via_c.labels == via_pybind.labels and via_c.input_shape == (3, 224, 224)
    assert via_c.arena_bytes(2) == via_pybind.arena_bytes(2)


def test_capi_errors_are_python_exceptions(tmp_path):
    with pytest.raises(attocore.FormatError, match="magic"):
        capi.load(b"x" * 100)
    with pytest.raises(OSError):
        capi.load(str(tmp_path / "missing.atto"))
    m = capi.load(fmt.encode(zoo.seeded_graph("attonet-d")))
    with pytest.raises(attocore.InputError, match="shape"):
        m.run(np.zeros((1, 3, 10, 10), np.float32))
    with pytest.raises(attocore.InputError, match="dtype"):
        m.run(np.zeros((1, 3, 224, 224), np.float64))


def test_capi_precision_option():
    """precision= through attocore_model_options: fp32 by default; fp16 refused on a CPU
    without FEAT_FP16 (here: x86) and bf16 on one without AVX512-BF16 with ConfigError, bf16
    loaded where the CPU has it; an unknown name a ValueError."""
    import platform
    from attocore.backends import native
    data = fmt.encode(zoo.seeded_graph("attonet-d"))
    assert capi.load(data).precision == "fp32" and capi.load(data, precision="fp32").precision == "fp32"
    with pytest.raises(ValueError, match="precision"):
        capi.load(data, precision="bf8")
    if native.precision_support("bf16")[0]:
        assert capi.load(data, precision="bf16").precision == "bf16"
    else:
        with pytest.raises(attocore.ConfigError, match="AVX512-BF16"):
            capi.load(data, precision="bf16")
    if platform.machine().lower() in ("x86_64", "amd64"):
        with pytest.raises(attocore.ConfigError, match="FEAT_FP16"):
            capi.load(data, precision="fp16")
