"""The TVM backend (Relax built from the attocore graph, untuned) against the native one."""
import numpy as np
import pytest

import attocore
from attocore import zoo
from attocore import format as fmt
from conftest import NETS


@pytest.mark.parametrize("name", NETS)
def test_tvm_matches_native(name, rng):
    data = fmt.encode(zoo.seeded_graph(name, seed=11))
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    native = attocore.load(data).run(x)
    got = attocore.load(data, backend="tvm").run(x)
    assert np.abs(got - native).max() <= 1e-4 * np.abs(native).max() + 1e-5


def test_tvm_relax_module_has_every_op():
    from attocore.backends.tvm.build import to_relax
    mod, weights = to_relax(zoo.seeded_graph("attonet-d"), batch=2)
    text = mod.script()
    for needle in ("R.nn.conv2d", "R.nn.max_pool2d", "R.mean", "R.matmul", "R.nn.relu", "(2, 224, 224, 3)",
                   'data_layout="NHWC"', 'kernel_layout="HWIO"'):
        assert needle in text
    # Weights are parameters (records then depend on shapes only), one per conv/FC weight and bias.
    assert len(mod["main"].params) == 1 + len(weights) and len(weights) == 2 * (69 + 1)


def test_run_with_tvm_backend_end_to_end():
    r = attocore.run("attonet-d", np.full((224, 224, 3), 128, np.uint8), backend="tvm", top_k=3)
    ref = attocore.run("attonet-d", np.full((224, 224, 3), 128, np.uint8), top_k=3)
    assert [p.index for p in r.top_k] == [p.index for p in ref.top_k]


def test_compiled_library_is_cached(tmp_path, monkeypatch, rng):
    """A second executor for the same graph loads the compiled library instead of compiling;
    other weights of the same net reuse it too (weights are arguments)."""
    from attocore.backends.tvm.backend import TvmBackend
    from attocore.backends.tvm.build import cache_dir
    monkeypatch.setenv("ATTOCORE_CACHE_DIR", str(tmp_path))
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    first = TvmBackend(zoo.seeded_graph("attonet-d", seed=1), tuned=False)
    y1 = first.run(x)
    assert not first.from_cache and len(list(cache_dir().glob("*.so"))) == 1
    other_weights = zoo.seeded_graph("attonet-d", seed=2)
    second = TvmBackend(other_weights, tuned=False)
    y2 = second.run(x)
    assert second.from_cache
    native = attocore.load(fmt.encode(other_weights)).run(x)
    assert np.abs(y2 - native).max() <= 1e-4 * np.abs(native).max() + 1e-5
    assert np.abs(y1 - y2).max() > 1e-3  # really the other weights
