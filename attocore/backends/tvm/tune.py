"""MetaSchedule tuning sessions for the TVM backend (`attocore tune`).

A session tunes every task (fused TIR function) of one model for one target and keeps the
records in a JSON database under `<root>/<target label>/<model>/` (see records.py). Running
it again with the same budget resumes: each task's earlier trials count against its share,
and tasks that already had their share are skipped.

Budget: N trials are split evenly, N // tasks per task (at least 4), measured in rounds of
at most 64 (one round per task at the usual budgets: each round costs a builder start-up). Every task gets its share: MetaSchedule's
gradient scheduler would otherwise spend a global budget on the first tasks and leave the
rest as naive loops.
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .build import fused, to_relax
from .library import load_tvm
from .target import target, target_label

MIN_TRIALS_PER_TASK = 4


def split_budget(trials: int, n_tasks: int) -> tuple[int, int]:
    """(trials per task, trials per search round) for a global budget of `trials`."""
    per_task = max(MIN_TRIALS_PER_TASK, trials // max(1, n_tasks))
    return per_task, min(64, per_task)


@dataclass
class TuneReport:
    records_dir: Path
    tasks: int
    trials_per_task: int
    trials_run: int
    skipped_tasks: int
    seconds: float
    best_ms: dict = field(default_factory=dict)   # task name -> best measured ms

    def estimated_ms(self, weights: dict) -> float:
        return sum(self.best_ms[n] * weights.get(n, 1) for n in self.best_ms)


def _build_without_tensor_intrinsics(mod, target, _params):
    """MetaSchedule's default build minus `import tvm.s_tir.tensor_intrin`, which costs each
    fresh builder process 60-90 s here; the CPU schedules tuned here use no tensor intrinsics."""
    from tvm.driver import build as tvm_build
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock
    return tvm_build(RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod), target=target)


def _load_ledger(out: Path) -> dict:
    path = out / "progress.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _progress_callback(ms, names, weights, budget, report, log, ledger: dict, out: Path):
    """A measure callback printing tasks done, trials and the best latency so far, and
    keeping the ledger of trials per task (progress.json) that a resumed session reads:
    it is rewritten after every batch, so a stopped session loses at most one batch."""
    from tvm.ir.utils import derived_object

    @derived_object
    class Progress(ms.measure_callback.PyMeasureCallback):
        def __init__(self):
            self.trials = {}
            self.start = time.time()

        def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
            name = names[task_id]
            self.trials[name] = self.trials.get(name, 0) + len(runner_results)
            ledger[name] = ledger.get(name, 0) + len(runner_results)
            tmp = out / "progress.json.tmp"
            tmp.write_text(json.dumps(ledger, indent=0, sort_keys=True) + "\n")
            tmp.replace(out / "progress.json")
            for r in runner_results:
                if r.error_msg is None and r.run_secs:
                    t = 1e3 * sum(float(s) for s in r.run_secs) / len(r.run_secs)
                    report.best_ms[name] = min(report.best_ms.get(name, math.inf), t)
            report.trials_run = sum(self.trials.values())
            done = sum(1 for n, b in budget.items() if self.trials.get(n, 0) >= b)
            est = sum(report.best_ms.get(n, 0.0) * weights[n] for n in names)
            log(f"[tune {time.time() - self.start:6.0f}s] task {task_id + 1}/{len(names)} {name}: "
                f"best {report.best_ms.get(name, math.nan):.4f} ms | tasks done {done}/{len(budget)}, "
                f"trials {report.trials_run}/{sum(budget.values())}, "
                f"network estimate {est:.2f} ms ({len(report.best_ms)} tasks measured)")

    return Progress()


def _runner(ms, rpc: dict | None):
    config = ms.runner.EvaluatorConfig(number=3, repeat=1, min_repeat_ms=20)
    if not rpc:
        return ms.runner.LocalRunner(timeout_sec=60, evaluator_config=config)
    return ms.runner.RPCRunner(
        rpc_config=ms.runner.RPCConfig(tracker_host=rpc["host"], tracker_port=rpc["port"],
                                       tracker_key=rpc["key"], session_timeout_sec=120),
        evaluator_config=config)


def tune(graph, model_name: str, target_name: str = "host", trials: int = 2048,
         root: str | os.PathLike = "tuning", threads: int = 0, rpc: dict | None = None,
         log=print, seed: int | None = None) -> TuneReport:
    """Run (or resume) a tuning session; returns what it did. `rpc` = {host, port, key}
    measures on a remote board through an RPC tracker instead of this machine."""
    if target_name != "host" and not rpc:
        raise ValueError(f"tuning for '{target_name}' measures on that board: give an RPC tracker "
                         "(--rpc-host/--rpc-port/--rpc-key); this machine can only measure 'host'")
    load_tvm()  # the install hint if TVM is missing, before its submodules are imported
    from tvm.s_tir import meta_schedule as ms
    from tvm.s_tir.meta_schedule.relax_integration import extract_tasks, extracted_tasks_to_tune_contexts

    out = Path(root) / target_label(target_name) / model_name
    out.mkdir(parents=True, exist_ok=True)
    tgt = target(target_name, threads)
    mod = fused(to_relax(graph, 1)[0], tgt)
    extracted = [t for t in extract_tasks(mod, tgt) if not t.mod.attrs.get("tirx.is_scheduled", False)]
    per_task, per_iter = split_budget(trials, len(extracted))
    database = ms.database.JSONDatabase(work_dir=str(out))

    # Resume: the trials each task already had (the ledger) count against its share. A task
    # whose search space is exhausted before its share is not retried: the search found no
    # new candidate for it, and would not on a second try either.
    ledger = _load_ledger(out)
    budget = {}
    for t in extracted:
        had = ledger.get(t.task_name, 0)
        if had < per_task and not ledger.get(f"{t.task_name}#exhausted"):
            budget[t.task_name] = per_task - had
    todo = [t for t in extracted if t.task_name in budget]
    before = dict(ledger)
    report = TuneReport(out, len(extracted), per_task, 0, len(extracted) - len(todo), 0.0)
    log(f"tuning {model_name} for {target_label(target_name)} ({tgt}): {len(extracted)} tasks, "
        f"{per_task} trials each in rounds of {per_iter}; {report.skipped_tasks} tasks already done; "
        f"records in {out}")
    if not todo:
        log("nothing to tune: every task has its share; raise --trials to tune further")
        return report

    # MetaSchedule logs at DEBUG to the console by default (a line per cost-model iteration);
    # INFO keeps its per-batch task table. A level the caller set is left alone.
    ms_logger = logging.getLogger("tvm.s_tir.meta_schedule")
    if ms_logger.level == logging.NOTSET:
        ms_logger.setLevel(logging.INFO)
    contexts, weights = extracted_tasks_to_tune_contexts(
        todo, work_dir=str(out / "logs"), seed=seed,
        strategy=ms.search_strategy.EvolutionarySearch(population_size=128, genetic_num_iters=2))
    names = [t.task_name for t in todo]
    callbacks = ms.MeasureCallback.create("default") + [
        _progress_callback(ms, names, dict(zip(names, weights)), budget, report, log, ledger, out)]
    start = time.time()
    ms.tune_tasks(
        tasks=contexts, task_weights=weights, work_dir=str(out / "logs"),
        max_trials_global=sum(budget.values()), max_trials_per_task=max(budget.values()),
        num_trials_per_iter=per_iter,
        builder=ms.builder.LocalBuilder(f_build=_build_without_tensor_intrinsics, timeout_sec=600),
        runner=_runner(ms, rpc), database=database, measure_callbacks=callbacks,
        task_scheduler="round-robin")
    report.seconds = time.time() - start
    # A finished session that left a task short of its share, with budget to spare, ran out
    # of candidates for it: mark it, so a resume does not retry it.
    if report.trials_run < sum(budget.values()):
        for name, want in budget.items():
            if ledger.get(name, 0) - before.get(name, 0) < want:
                ledger[f"{name}#exhausted"] = 1
    (out / "progress.json").write_text(json.dumps(ledger, indent=0, sort_keys=True) + "\n")
    _write_session_log(out, model_name, target_name, tgt, report, trials)
    return report


def _write_session_log(out: Path, model_name, target_name, tgt, report: TuneReport, trials: int):
    """Append what this session did to session.json beside the records."""
    path = out / "session.json"
    sessions = json.loads(path.read_text()) if path.is_file() else []
    import tvm
    sessions.append({
        "model": model_name, "target": target_name, "target_spec": str(tgt),
        "tvm": tvm.__version__, "trials_requested": trials, "tasks": report.tasks,
        "trials_per_task": report.trials_per_task, "trials_run": report.trials_run,
        "tasks_skipped": report.skipped_tasks, "seconds": round(report.seconds, 1),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    path.write_text(json.dumps(sessions, indent=1) + "\n")
