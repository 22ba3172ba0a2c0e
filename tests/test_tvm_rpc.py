"""The RPC tuning path for real: a tracker and two rpc_servers on 127.0.0.1 under one key
(attocore.backends.tvm.rpc.LocalFarm, stopped at the end whatever happens), `attocore tune` measuring
through them on a small model with a small budget, a second session resuming it, and the
records applied."""
import re
import subprocess
import sys

import numpy as np
import pytest

import attocore
from attocore import format as fmt
from attocore.testing.tiny_graphs import three_task_graph

pytest.importorskip("tvm")
from attocore.backends.tvm import tune as tvm_tune  # noqa: E402
from attocore.backends.tvm.records import RECORD_FILES  # noqa: E402
from attocore.backends.tvm.rpc import LocalFarm, queue_state  # noqa: E402
from attocore.backends.tvm.target import target_label  # noqa: E402


def tiny_graph():
    return three_task_graph("tiny-rpc", seed=4)


@pytest.fixture(scope="module")
def farm():
    with LocalFarm(key="attocore-ci", servers=2, start_timeout=300) as f:
        yield f


def tune(model, root, farm, trials):
    proc = subprocess.run([sys.executable, "-m", "attocore", "tune", str(model), "--trials", str(trials),
                           "--work-dir", str(root), "--from", "none", "--rpc-host", farm.host,
                           "--rpc-port", str(farm.port), "--rpc-key", farm.key],
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_farm_registers_both_servers(farm):
    state = queue_state(farm.host, farm.port, farm.key)
    assert state == {"servers": 2, "free": 2, "busy": 0, "pending": 0}
    assert queue_state(farm.host, farm.port, "no-such-key")["servers"] == 0


def test_tune_through_tracker_resumes_and_applies(farm, tmp_path):
    model = tmp_path / "tiny-rpc.atto"
    fmt.save(tiny_graph(), model)
    root = tmp_path / "tuning"

    first = tune(model, root, farm, trials=4)
    tasks = int(re.search(r"(\d+) tasks, 4 trials each", first).group(1))
    out = root / target_label("host") / "tiny-rpc"
    assert all((out / f).stat().st_size > 0 for f in RECORD_FILES)
    records = len((out / "database_tuning_record.json").read_text().splitlines())
    assert records >= tasks * 3  # a candidate may fail to build
    # Progress: the tracker's queue with it, one line per finished task, the table at the end.
    assert "RPC tracker 127.0.0.1" in first and "free /" in first and "busy" in first
    assert len(re.findall(r"\] done \d+/\d+ ", first)) == tasks
    assert "saved ms" in first and "network (weighted sum)" in first
    trials_first = int(re.search(r"\((\d+) trials this session", first).group(1))
    assert trials_first >= tasks * 3

    # A larger budget resumes: one more trial per task, not the whole share again. (In this
    # process: every `attocore tune` process spends a minute importing TVM's tensor intrinsics.)
    logs = []
    second = tvm_tune.tune(tiny_graph(), "tiny-rpc", trials=5 * tasks, root=root, rpc=farm.rpc, log=logs.append,
                           start_from="none")
    assert second.skipped_tasks == 0 and second.trials_per_task == 5
    assert 0 < second.trials_run <= tasks
    assert len((out / "database_tuning_record.json").read_text().splitlines()) > records
    assert any("free /" in line for line in logs)
    again = tune(model, root, farm, trials=5 * tasks)
    assert "nothing to tune" in again

    # The records apply: functions scheduled, answer unchanged.
    data = fmt.encode(tiny_graph())
    x = np.random.default_rng(0).standard_normal((1, 3, 16, 16)).astype(np.float32)
    tuned = attocore.load(data, backend="tvm", tuned=True, records=root)
    got = tuned.run(x)
    native = attocore.load(data).run(x)
    assert tuned.executor.records == out and tuned.executor.scheduled >= tasks - 1
    assert np.abs(got - native).max() <= 1e-4 * np.abs(native).max() + 1e-5


def test_farm_stops_every_process():
    f = LocalFarm(key="attocore-stop", servers=1, start_timeout=300)
    with f:
        procs = [p for _, p in f._procs]
        assert all(p.poll() is None for p in procs)
    assert all(p.poll() is not None for p in procs)
    assert queue_state(f.host, f.port, f.key, timeout=1) is None  # the tracker is gone
