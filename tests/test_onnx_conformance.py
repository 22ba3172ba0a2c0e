"""ONNX's backend node tests for every operator attocore imports, with the stored inputs and
outputs (attocore/testing/onnx_conformance.py): none may compute a wrong answer or fail
untyped; a refusal names its node or operator. The pass count has a floor so that a change
that starts refusing what used to convert is noticed."""
from collections import Counter

import pytest

pytest.importorskip("onnx")

from attocore.testing.onnx_conformance import run_all  # noqa: E402

PASSED_AT_LEAST = 95


def test_onnx_node_tests_pass_or_are_refused_by_name():
    outcomes = run_all()
    counts = Counter(o.verdict for o in outcomes)
    print(f"\n{len(outcomes)} ONNX node test cases: {counts['passed']} passed, {counts['refused']} refused with a "
          f"named reason, {counts['failed']} failed")
    failed = [f"{o.case}: {o.detail}" for o in outcomes if o.verdict == "failed"]
    assert not failed, "\n".join(failed)
    assert counts["passed"] >= PASSED_AT_LEAST, counts
    # Every operator attocore imports has at least one case of its own that passes or, for
    # the ones whose node tests use shapes a CNN runtime does not take, a named refusal.
    assert {o.op_type for o in outcomes} >= {"Conv", "MaxPool", "AveragePool", "Gemm", "BatchNormalization"}
    assert all(counts_of(outcomes, op)["passed"] for op in ("Conv", "MaxPool", "AveragePool", "Gemm",
                                                              "GlobalAveragePool", "BatchNormalization"))


def counts_of(outcomes, op):
    return Counter(o.verdict for o in outcomes if o.op_type == op)
