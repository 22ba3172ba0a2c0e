"""TVM tuning sessions: a tiny session writes records, a second one resumes it (only the
missing trials run), a third finds nothing left, and the records are applied when compiling."""
import json

import numpy as np
import pytest

import attocore
from attocore import format as fmt
from attocore import zoo
from attocore.backends.tvm import build, records, target, tune

pytest.importorskip("tvm")


def tiny_graph():
    """One AttoNet module (projection shortcut) on a 32x32 input: about ten TVM tasks."""
    net = zoo.NetSpec("tiny-atto", 8, (zoo.ModuleSpec(6, 2, 2, 10, 12),))
    return zoo.build_graph(net, zoo.seeded_params(net, num_classes=5, seed=3), num_classes=5, input_hw=32)


def test_budget_reaches_every_task():
    assert tune.split_budget(1776, 37) == (48, 48)
    assert tune.split_budget(10, 37) == (tune.MIN_TRIALS_PER_TASK, tune.MIN_TRIALS_PER_TASK)
    per_task, per_round = tune.split_budget(5000, 38)
    assert per_task == 131 and per_round == 64


def test_session_writes_resumes_and_is_applied(tmp_path):
    graph = tiny_graph()
    logs = []
    first = tune.tune(graph, "tiny-atto", trials=4, root=tmp_path, log=logs.append, seed=1)
    out = tmp_path / target.target_label("host") / "tiny-atto"
    assert first.records_dir == out
    assert all((out / f).stat().st_size > 0 for f in records.RECORD_FILES)
    assert first.trials_per_task == tune.MIN_TRIALS_PER_TASK and first.skipped_tasks == 0
    assert first.trials_run >= first.tasks * 3  # a candidate or two per task may fail to build
    assert any("network estimate" in line for line in logs)  # progress was reported
    records_after_first = len((out / "database_tuning_record.json").read_text().splitlines())

    # Doubling the budget resumes: each task keeps its trials and gets only the missing ones.
    second = tune.tune(graph, "tiny-atto", trials=8 * first.tasks, root=tmp_path, log=logs.append, seed=2)
    assert second.tasks == first.tasks and second.trials_per_task == 8
    assert 0 < second.trials_run <= first.tasks * 8 - first.trials_run + first.tasks
    assert len((out / "database_tuning_record.json").read_text().splitlines()) > records_after_first

    # Same budget again: nothing left to do.
    third = tune.tune(graph, "tiny-atto", trials=8 * first.tasks, root=tmp_path, log=logs.append)
    assert third.trials_run == 0 and third.skipped_tasks == third.tasks
    assert "nothing to tune" in logs[-1]
    sessions = json.loads((out / "session.json").read_text())
    assert [s["trials_per_task"] for s in sessions] == [4, 8]

    # Applied: the compiled functions are scheduled, and the answer does not change.
    data = fmt.encode(graph)
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    native = attocore.load(data).run(x)
    tuned = attocore.load(data, backend="tvm", tuned=True, records=tmp_path)
    got = tuned.run(x)
    assert tuned.executor.records == out and tuned.executor.scheduled >= first.tasks - 2
    assert np.abs(got - native).max() <= 1e-4 * np.abs(native).max() + 1e-5


def test_required_records_missing_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="attocore tune tiny-atto"):
        attocore.load(fmt.encode(tiny_graph()), backend="tvm", tuned=True, records=tmp_path / "none")


def test_shipped_records_cover_attonet_d():
    """The repository's AttoNet-D records (tuning/host-<cpu>/attonet-d) exist, and every
    tuned task of the net finds its record."""
    dirs = sorted(records.shipped_root().glob("host-*/attonet-d"))
    assert dirs, f"no shipped AttoNet-D records under {records.shipped_root()}"
    d = dirs[0]
    assert all((d / f).is_file() for f in records.RECORD_FILES), f"records missing under {d}"
    graph = zoo.seeded_graph("attonet-d")
    tgt = target.target("host")
    mod = build.fused(build.to_relax(graph)[0], tgt)
    _, scheduled = records.apply_records(mod, tgt, d)
    session = json.loads((d / "session.json").read_text())[-1]
    assert scheduled >= session["tasks"] - 1, (scheduled, session)


def test_board_target_without_rpc_is_refused(tmp_path):
    with pytest.raises(ValueError, match="RPC tracker"):
        tune.tune(tiny_graph(), "tiny-atto", target_name="rpi4", trials=4, root=tmp_path)
