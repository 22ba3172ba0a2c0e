"""The native multiply-add count (C++ op_macs, exposed as attocore._core.op_macs): per op it
is what attocore.summary computes, and a loaded model's total is the sum over its ops
whatever the fusion made of them."""
import pytest

import attocore
from attocore import _core, errors, format as fmt, zoo
from attocore.graph_summary import summarize
from conftest import NETS


@pytest.mark.parametrize("name,input_hw", [(n, 224) for n in NETS] + [("attonet-a", 32)])
def test_native_op_macs_match_the_summary(name, input_hw):
    graph = zoo.seeded_graph(name, input_hw=input_hw)
    native = _core.op_macs(fmt.encode(graph))
    assert [n for n, _ in native] == [op.name for op in graph.ops]
    python = {r.name: r.macs for r in summarize(graph).rows}
    assert dict(native) == python
    assert sum(m for _, m in native) > 0


@pytest.mark.parametrize("force_reference", [False, True])
def test_model_macs_are_the_sum_over_ops(force_reference):
    graph = zoo.seeded_graph("attonet-d")
    model = attocore.load(fmt.encode(graph), threads=1, force_reference=force_reference)
    assert model.macs == sum(m for _, m in _core.op_macs(fmt.encode(graph)))


def test_op_macs_refuses_a_bad_file():
    with pytest.raises(errors.FormatError):
        _core.op_macs(b"not a model file")
