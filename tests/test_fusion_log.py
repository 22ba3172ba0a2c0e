"""ATTOCORE_LOG=fusion: at load, one line per op on stderr saying which fused-step pattern took
it (and into which step), or, for an op left alone, why each pattern declined it."""
import os
import re
import subprocess
import sys

import attocore
from attocore import zoo

LOAD = "import attocore; attocore.load('attonet-d', threads=1)"


def load_log(tmp_path, **env):
    proc = subprocess.run([sys.executable, "-c", LOAD], capture_output=True, text=True, check=True, cwd=tmp_path,
                          env=dict(os.environ, **env))
    return [line for line in proc.stderr.splitlines() if line.startswith("fusion:")]


def test_fusion_log_names_a_pattern_or_reasons_for_every_op(tmp_path):
    lines = load_log(tmp_path, ATTOCORE_LOG="fusion")
    graph = zoo.seeded_graph("attonet-d")
    steps = [name for name, _ in attocore.load("attonet-d", threads=1).executor.kernels()]
    assert lines[0] == f"fusion: 'attonet-d': {len(graph.ops)} ops in {len(steps)} steps"
    per_op = lines[1:]
    assert [re.match(r"fusion: op '([^']+)' ", line).group(1) for line in per_op] == [op.name for op in graph.ops]
    by_op = {op.name: line for op, line in zip(graph.ops, per_op)}
    assert by_op["m3.mix"].endswith("taken by module_tail (as first) in step 'm3.group..m3.add+m4.compress'")
    assert "taken by module_tail (as next) in step 'm3.group..m3.add+m4.compress'" in by_op["m4.compress"]
    assert "taken by module_tail (as projection)" in by_op["m4.project"]
    # Module 1's compression has no tail before it to ride on: alone, with each pattern's reason.
    alone = by_op["m1.compress"]
    assert re.search(r"alone: declined by module_tail: .+; by dw_conv1x1: .+; by conv_residual: .+", alone), alone
    assert "input from 'pool'" in alone
    for line in per_op:
        taken = re.search(r"taken by \w+ \(as \w+\) in step '([^']+)'$", line)
        assert taken or " alone: declined by " in line, line
        if taken:
            assert taken.group(1) in steps, line


def test_fusion_log_off_by_default_and_for_other_topics(tmp_path):
    assert load_log(tmp_path) == []
    assert load_log(tmp_path, ATTOCORE_LOG="memory") == []
    assert len(load_log(tmp_path, ATTOCORE_LOG="memory,fusion")) == 1 + len(zoo.seeded_graph("attonet-d").ops)


def test_fusion_log_says_when_fusion_is_off(tmp_path):
    lines = load_log(tmp_path, ATTOCORE_LOG="fusion", ATTOCORE_FORCE_REFERENCE="1")
    assert all(line.endswith("alone: fusion is off (reference kernels)") for line in lines[1:]), lines[:3]
