"""Kernel plan files (attocore tune-plan) without TVM: the format read back, its errors, and
attocore.load(plan=) on a build without TVM kernels (a plan keeping every step hand-written
runs; one for another model, or a malformed one, is refused with PlanError)."""
import numpy as np
import pytest

import attocore
from attocore.backends.tvm.plan import Plan, PlanStep, plan_selection, read_plan
from attocore.errors import PlanError


def plan(model="AttoNet-D"):
    return Plan(model, [PlanStep("stem", "native", 0.3, 0.7, ["stem"]),
                        PlanStep("m1.compress", "tvm", 0.047, 0.01, ["m1.compress"]),
                        PlanStep("pool", "native", 0.06, None, [])], {"target": "host-x", "tvm steps": 1})


def test_round_trip_and_selection(tmp_path):
    path = tmp_path / "d.plan"
    plan().write(path)
    back = read_plan(path)
    assert back.model == "AttoNet-D" and back.notes["target"] == "host-x"
    assert [(s.step, s.choice, s.tvm_ms, s.layers) for s in back.steps] == [
        ("stem", "native", 0.7, ["stem"]), ("m1.compress", "tvm", 0.01, ["m1.compress"]), ("pool", "native", None, [])]
    assert plan_selection(path, "AttoNet-D") == "m1.compress"
    with pytest.raises(PlanError, match="is a plan for 'AttoNet-D', the model is 'other'"):
        plan_selection(path, "other")


@pytest.mark.parametrize("text, message", [
    ("", "empty plan file"),
    ("attocore-plan 2\n", "not an attocore plan"),
    ("attocore-plan 1\nstem\tmaybe\t1\t2\tstem\n", "want step, native|tvm"),
    ("attocore-plan 1\nstem\ttvm\t1\t2\t-\n", "a tvm step names no layers"),
    ("attocore-plan 1\nstem\tnative\tfast\t2\tstem\n", "bad time"),
])
def test_malformed_plans_are_refused(tmp_path, text, message):
    path = tmp_path / "bad.plan"
    path.write_text(text)
    with pytest.raises(PlanError, match=message):
        read_plan(path)


def test_load_with_a_plan(tmp_path):
    name = attocore.load("attonet-a").name
    x = np.random.default_rng(0).standard_normal((1,) + attocore.load("attonet-a").input_shape).astype(np.float32)
    native = plan(name)
    for s in native.steps:
        s.choice = "native"
    path = tmp_path / "native.plan"
    native.write(path)
    m = attocore.load("attonet-a", plan=path)
    np.testing.assert_array_equal(m.run(x), attocore.load("attonet-a").run(x))
    assert not any(k.startswith("tvm:") for _, k, _, _ in m.profile(x)[1])
    native.model = "Other"
    native.write(tmp_path / "other.plan")
    with pytest.raises(PlanError, match="is a plan for 'Other'"):
        attocore.load("attonet-a", plan=tmp_path / "other.plan")
    with pytest.raises(PlanError, match="cannot read plan file"):
        attocore.load("attonet-a", plan=tmp_path / "missing.plan")
    # A tvm step needs a build with the kernels.
    plan(name).write(tmp_path / "tvm.plan")
    with pytest.raises(attocore.UnsupportedOpError, match="links no TVM kernels"):
        attocore.load("attonet-a", plan=tmp_path / "tvm.plan")
    with pytest.raises(ValueError, match="native backend"):
        attocore.load("attonet-a", backend="numba", plan=path)
