"""ONNX's own backend node tests (the `onnx` package's test cases, with their stored inputs
and outputs) run through attocore.onnx.convert and the native executor.

A case whose operators attocore imports is converted with its first graph input as the image
and the others bound to their stored values as constants (attocore takes one input; weights
are constants to it). Each case ends as
- passed: the outputs match ONNX's within the case's rtol/atol (at least 1e-4 relative),
- refused: a typed attocore error, whose message names the node and operator,
- failed: anything else; a different answer, a refusal that names nothing, another exception.
Nothing may fail: a wrong answer is the one outcome a runtime must never give.

    python -m attocore.testing.onnx_conformance      # the counts and every refusal's reason
"""
from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..errors import AttocoreError


@dataclass(frozen=True)
class Outcome:
    case: str
    op_type: str
    verdict: str   # "passed", "refused", "failed"
    detail: str


def importable_cases(supported: set) -> list:
    """The node test cases (onnx.backend.test.case.node) whose every node is an operator
    attocore imports, as (name, op_type, model, data_sets, rtol, atol)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some generators divide by zero on purpose
        from onnx.backend.test.case import node
        cases = node.collect_testcases(None)
    chosen = []
    for c in cases:
        ops = {n.op_type for n in c.model.graph.node}
        if ops and ops <= supported and c.data_sets:
            chosen.append((c.name, c.model.graph.node[0].op_type, c.model, c.data_sets, c.rtol, c.atol))
    return sorted(chosen, key=lambda c: c[0])


def bind_constants(model, inputs):
    """The model with every graph input but the first turned into an initializer holding its
    stored value."""
    import onnx
    from onnx import numpy_helper
    bound = onnx.ModelProto()
    bound.CopyFrom(model)
    graph_inputs = list(bound.graph.input)
    del bound.graph.input[1:]
    for value_info, value in zip(graph_inputs[1:], inputs[1:]):
        if isinstance(value, np.ndarray):
            bound.graph.initializer.append(numpy_helper.from_array(value, value_info.name))
    return bound


def run_case(name, op_type, model, data_sets, rtol, atol) -> Outcome:
    import attocore
    from attocore.onnx import convert
    from .. import format as fmt
    inputs, outputs = data_sets[0]
    image = inputs[0] if inputs else None
    try:
        if not isinstance(image, np.ndarray) or image.dtype != np.float32:
            raise attocore.UnsupportedOpError(f"{op_type}: the graph input is not a float32 tensor "
                                              f"({type(image).__name__})")
        graph = convert(bind_constants(model, inputs))
        got = attocore.load(fmt.encode(graph), threads=1).run(np.ascontiguousarray(image))
    except AttocoreError as e:
        text = str(e)
        named = any(n.op_type in text or (n.name and n.name in text) for n in model.graph.node) \
            or "graph input" in text or "graph output" in text or "opset" in text or "the graph has" in text or "input shape" in text \
            or "shape inference" in text
        return Outcome(name, op_type, "refused" if named else "failed",
                       text if named else f"a refusal that names no node or operator: {text}")
    except Exception as e:  # noqa: BLE001 - anything untyped is a failure to report, not to raise
        return Outcome(name, op_type, "failed", f"{type(e).__name__}: {e}")
    gots = list(got) if isinstance(got, tuple) else [got]
    if len(gots) != len(outputs):
        return Outcome(name, op_type, "failed", f"{len(gots)} outputs, ONNX gives {len(outputs)}")
    error = 0.0
    for got, want in zip(gots, outputs):
        if got.shape != want.shape:
            if got.size == want.size and got.shape[0] == want.shape[0]:
                got = got.reshape(want.shape)  # [N, C] for ONNX's [N, C, 1, 1]: the same values
            else:
                return Outcome(name, op_type, "failed", f"output shape {got.shape}, ONNX gives {want.shape}")
        tolerance = max(rtol, 1e-4) * float(np.abs(want).max(initial=0.0)) + max(atol, 1e-6)
        error = max(error, float(np.abs(got - want).max(initial=0.0)))
        if not np.isfinite(got).all() or float(np.abs(got - want).max(initial=0.0)) > tolerance:
            return Outcome(name, op_type, "failed", f"max abs error {error:.3g} > {tolerance:.3g}")
    return Outcome(name, op_type, "passed", f"max abs error {error:.3g}")


def run_all() -> list:
    from ..importers.onnx import SUPPORTED
    return [run_case(*c) for c in importable_cases(SUPPORTED)]


def main() -> None:
    outcomes = run_all()
    counts = Counter(o.verdict for o in outcomes)
    for o in outcomes:
        if o.verdict != "passed":
            print(f"{o.verdict:8} {o.case}: {o.detail}")
    print(f"{len(outcomes)} ONNX node test cases of imported operators: {counts['passed']} passed, "
          f"{counts['refused']} refused with a named reason, {counts['failed']} failed")
    by_op = Counter((o.op_type, o.verdict) for o in outcomes)
    for op in sorted({o.op_type for o in outcomes}):
        print(f"  {op:20} passed {by_op[(op, 'passed')]:3}  refused {by_op[(op, 'refused')]:3}  "
              f"failed {by_op[(op, 'failed')]:3}")


if __name__ == "__main__":
    main()
