"""Whole AttoNets A-D: attocore (native and numba) against PyTorch, batch 1 and 3."""
import numpy as np
import pytest
import torch

import attocore
from conftest import NETS


def bound(ref):
    return 1e-4 * np.abs(ref).max() + 1e-5


@pytest.mark.parametrize("name", NETS)
@pytest.mark.parametrize("backend", ["native", "numba"])
def test_matches_pytorch(exported, name, backend, rng):
    net, path = exported[name]
    model = attocore.load(path, backend=backend)
    inputs = [rng.standard_normal((1, 3, 224, 224)).astype(np.float32) for _ in range(2)]
    inputs.append(rng.standard_normal((3, 3, 224, 224)).astype(np.float32))
    for x in inputs:
        with torch.no_grad():
            ref = net(torch.from_numpy(x)).numpy()
        got = model.run(x)
        assert got.shape == ref.shape
        err = np.abs(got - ref).max()
        assert err <= bound(ref), f"{name} {backend} batch {x.shape[0]}: max error {err:.3g} > {bound(ref):.3g}"


@pytest.mark.parametrize("name", NETS)
def test_validate_reports_error(exported, name, rng):
    from attocore.torch import validate
    net, path = exported[name]
    v = validate(net, path, rng.standard_normal((1, 3, 224, 224)).astype(np.float32))
    assert v.within() and v.max_abs_logit > 0


def test_batch_rows_are_independent(exported, rng):
    """Each image of a batch gives what it gives alone (no cross-talk in the arena plan)."""
    _, path = exported["attonet-c"]
    model = attocore.load(path)
    x = rng.standard_normal((3, 3, 224, 224)).astype(np.float32)
    whole = model.run(x)
    for i in range(3):
        np.testing.assert_allclose(model.run(x[i:i + 1])[0], whole[i], rtol=0, atol=1e-6)


def test_threads_give_identical_results(exported, rng):
    _, path = exported["attonet-d"]
    x = rng.standard_normal((2, 3, 224, 224)).astype(np.float32)
    one = attocore.load(path, threads=1).run(x)
    for t in (2, 3):
        assert np.array_equal(attocore.load(path, threads=t).run(x), one)


def test_arena_is_planned_and_reused(exported):
    """The arena is far smaller than the sum of all activations, at most the two largest
    tensors (the module tails write their output over their shortcut), and grows with the batch."""
    for name in NETS:
        _, path = exported[name]
        model = attocore.load(path)
        g = model.graph
        total = sum(4 * int(np.prod(t.shape)) for t in g.tensors.values() if not t.is_constant)
        largest = max(4 * int(np.prod(t.shape)) for t in g.tensors.values() if not t.is_constant)
        arena = model.arena_bytes(1)
        assert largest <= arena < total / 4
        assert arena <= 2 * largest, (name, arena, largest)
        assert model.arena_bytes(3) >= 3 * largest


@pytest.mark.parametrize("how", ["option", "environment"])
def test_reference_path_is_unfused_and_matches_pytorch(exported, how, rng, monkeypatch):
    """force_reference=True, or ATTOCORE_FORCE_REFERENCE=1, runs every op alone on the portable
    reference kernels (the debugging path), and those agree with PyTorch as the fast path does."""
    net, path = exported["attonet-c"]
    if how == "environment":
        monkeypatch.setenv("ATTOCORE_FORCE_REFERENCE", "1")
        model = attocore.load(path)
    else:
        model = attocore.load(path, force_reference=True)
    x = rng.standard_normal((2, 3, 224, 224)).astype(np.float32)
    _, steps = model.profile(x[:1])
    assert all(kernel.endswith("_ref") for _, kernel, _, _ in steps), {k for _, k, _, _ in steps}
    assert len(steps) == len(model.graph.ops), "the reference path runs every op as its own step"
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    got = model.run(x)
    assert np.abs(got - ref).max() <= bound(ref)
    monkeypatch.delenv("ATTOCORE_FORCE_REFERENCE", raising=False)
    fast = attocore.load(path)
    assert not all(kernel.endswith("_ref") for _, kernel, _, _ in fast.profile(x[:1])[1])
    assert np.abs(fast.run(x) - got).max() <= bound(ref)


@pytest.mark.parametrize("name", ["attonet-a", "attonet-d"])
def test_every_isa_matches_pytorch(exported, name, rng, monkeypatch):
    """Each kernel set this CPU runs (ATTOCORE_ISA: the AVX2 path on an AVX-512 machine, say)
    uses its own kernels, agrees with PyTorch, and gives the same bits at 1 and 2 threads."""
    net, path = exported[name]
    x = rng.standard_normal((2, 3, 224, 224)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    isas = attocore.available_isas()
    assert isas[0] == "ref" and len(isas) == len(set(isas))
    for isa in isas[1:]:  # the reference path has its own test above
        monkeypatch.setenv("ATTOCORE_ISA", isa)
        model = attocore.load(path, threads=1)
        assert model.isa == isa
        kernels = {k for _, k, _, _ in model.profile(x[:1])[1]}
        assert any(k.endswith("_" + isa) for k in kernels), (isa, kernels)
        got = model.run(x)
        err = np.abs(got - ref).max()
        assert err <= bound(ref), f"{name} {isa}: max error {err:.3g} > {bound(ref):.3g}"
        assert np.array_equal(attocore.load(path, threads=2).run(x), got), f"{name} {isa}: 2 threads differ"


def test_unavailable_isa_is_refused(exported, monkeypatch):
    _, path = exported["attonet-d"]
    monkeypatch.setenv("ATTOCORE_ISA", "avx9")
    with pytest.raises(attocore.ConfigError, match=r"ATTOCORE_ISA=avx9.*available: ref"):
        attocore.load(path)
    monkeypatch.setenv("ATTOCORE_ISA", "")  # empty: the default, the best set
    assert attocore.load(path).isa == attocore.available_isas()[-1]
