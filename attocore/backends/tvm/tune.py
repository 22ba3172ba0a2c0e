"""MetaSchedule tuning sessions for the TVM backend (`attocore tune`).

A session tunes every task (fused TIR function) of one model for one target and keeps the
records in a JSON database under `<root>/<target label>/<model>/` (see records.py). Running
it again with the same budget resumes: each task's earlier trials count against its share,
and tasks that already had their share are skipped. A new session starts from a compatible
CPU's records when some exist (records.candidates, re-keyed for this target). Measuring can
happen on a board behind an RPC tracker (rpc.py); the session shows its progress (progress.py).

Budget: N trials are split evenly, N // tasks per task (at least 4), measured in rounds of
at most 64 (one round per task at the usual budgets: each round costs a builder start-up). Every task gets its share: MetaSchedule's
gradient scheduler would otherwise spend a global budget on the first tasks and leave the
rest as naive loops.
"""
from __future__ import annotations

import functools
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .build import fused, to_relax
from .export import CROSS_COMPILERS
from .library import load_tvm
from .progress import TuningProgress
from .records import (IMPORT_NOTE, candidates, compatibility, has_records, isa_level, recorded_target, rekey,
                      search_roots)
from .rpc import describe_queue, queue_state
from .target import target, target_label, target_spec

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
    table: list = field(default_factory=list)     # TuningProgress.table(): tasks by time saved

    def estimated_ms(self, weights: dict) -> float:
        return sum(self.best_ms[n] * weights.get(n, 1) for n in self.best_ms)


def _build_without_tensor_intrinsics(mod, target, _params):
    """MetaSchedule's default build minus `import tvm.s_tir.tensor_intrin`, which costs each
    fresh builder process 60-90 s here; the CPU schedules tuned here use no tensor intrinsics."""
    from tvm.driver import build as tvm_build
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock
    return tvm_build(RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod), target=target)


def _import_cpu_tensor_intrinsics(arm: bool):
    """Register only the CPU tensor intrinsics MetaSchedule's CPU schedule rules name (x86's
    VNNI/AVX-512 dot products, or ARM's), not the whole tvm.s_tir.tensor_intrin package that
    every TuneContext imports: its GPU intrinsics cost over a minute of TVMScript parsing per
    process here. The package stands in empty, so any other submodule still imports on demand."""
    import importlib
    import sys
    import types
    import tvm.s_tir
    name = "tvm.s_tir.tensor_intrin"
    if name not in sys.modules:
        pkg = types.ModuleType(name)
        pkg.__path__ = [os.path.join(os.path.dirname(tvm.s_tir.__file__), "tensor_intrin")]
        pkg.__package__ = name
        sys.modules[name] = pkg
        tvm.s_tir.tensor_intrin = pkg
    importlib.import_module(f"{name}.{'arm_cpu' if arm else 'x86'}")


def _load_ledger(out: Path) -> dict:
    path = out / "progress.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _progress_callback(ms, names, report, progress, ledger: dict, out: Path):
    """A measure callback feeding the session's progress display (progress.py) and keeping the ledger of trials per task (progress.json) that a resumed session reads:
    it is rewritten after every batch, so a stopped session loses at most one batch."""
    from tvm.ir.utils import derived_object

    @derived_object
    class Progress(ms.measure_callback.PyMeasureCallback):
        def __init__(self):
            self.trials = {}

        def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
            name = names[task_id]
            self.trials[name] = self.trials.get(name, 0) + len(runner_results)
            ledger[name] = ledger.get(name, 0) + len(runner_results)
            tmp = out / "progress.json.tmp"
            tmp.write_text(json.dumps(ledger, indent=0, sort_keys=True) + "\n")
            tmp.replace(out / "progress.json")
            times = [1e3 * sum(float(s) for s in r.run_secs) / len(r.run_secs)
                     for r in runner_results if r.error_msg is None and r.run_secs]
            for t in times:
                report.best_ms[name] = min(report.best_ms.get(name, math.inf), t)
            report.trials_run = sum(self.trials.values())
            progress.batch(name, times, len(runner_results))

    return Progress()


def _export_cross(compiler: str, mod) -> str:
    """Builder export for a board: link the candidate to a shared object here with the cross
    compiler (MetaSchedule's default ships a tar of objects for the board to link, which
    needs a compiler there)."""
    import tempfile
    from tvm.support.cc import cross_compiler
    path = os.path.join(tempfile.mkdtemp(), "tvm_tmp_mod.so")
    mod.export_library(path, fcompile=cross_compiler(compiler))
    return path


def _runner(ms, rpc: dict | None):
    config = ms.runner.EvaluatorConfig(number=3, repeat=1, min_repeat_ms=20)
    if not rpc:
        return ms.runner.LocalRunner(timeout_sec=60, evaluator_config=config)
    return ms.runner.RPCRunner(
        rpc_config=ms.runner.RPCConfig(tracker_host=rpc["host"], tracker_port=rpc["port"],
                                       tracker_key=rpc["key"], session_timeout_sec=120),
        evaluator_config=config)


def _start_from(model_name: str, target_name: str, out: Path, start_from: str | None, root, log):
    """Seed an empty session directory with another target's compatible records, re-keyed:
    `start_from` a target label ('host-rocketlake'), "auto" for the nearest compatible set,
    or "none"."""
    if start_from in (None, "none"):
        return
    explicit = start_from != "auto"
    if has_records(out):
        if explicit:
            raise ValueError(f"{out} already has records: a session resumes from them (--from is for a new one)")
        return
    spec = target_spec(target_name)
    current = isa_level(spec)
    roots = [Path(root)] + [r for r in search_roots() if Path(r).resolve() != Path(root).resolve()]
    if explicit:
        src = next((r / start_from / model_name for r in roots if has_records(r / start_from / model_name)), None)
        if src is None:
            raise FileNotFoundError(f"no records for {model_name} under {start_from} in {', '.join(map(str, roots))}")
        level = isa_level(recorded_target(src) or {})
        why = compatibility(level, current)
        if why:
            raise ValueError(f"--from {start_from}: {why}")
        label = start_from
    else:
        found = candidates(model_name, spec, roots, exclude_label=out.parent.name)
        if not found:
            return
        src, label, level = found[0].records_dir, found[0].label, found[0].level
    n = rekey(src, out, spec, label)
    log(f"starting from {label}'s records ({level}; this CPU: {current}): {n} records from {src}, "
        f"re-keyed for {out.parent.name}")


def tune(graph, model_name: str, target_name: str = "host", trials: int = 2048,
         root: str | os.PathLike = "tuning", threads: int = 0, rpc: dict | None = None,
         log=print, seed: int | None = None, start_from: str | None = "auto", progress_bar=None) -> TuneReport:
    """Run (or resume) a tuning session; returns what it did. `rpc` = {host, port, key}
    measures on a remote board through an RPC tracker instead of this machine.

    A new session (no records of its own yet) starts from a compatible CPU's records when
    some exist: start_from="auto" (the nearest, printed), a target label, or "none".
    progress_bar: None shows a tqdm bar on a terminal, True always, False never."""
    if target_name != "host" and not rpc:
        raise ValueError(f"tuning for '{target_name}' measures on that board: give an RPC tracker "
                         "(--rpc-host/--rpc-port/--rpc-key); this machine can only measure 'host'")
    load_tvm()  # the install hint if TVM is missing, before its submodules are imported
    from tvm.s_tir import meta_schedule as ms
    from tvm.s_tir.meta_schedule.relax_integration import extract_tasks, extracted_tasks_to_tune_contexts

    out = Path(root) / target_label(target_name) / model_name
    out.mkdir(parents=True, exist_ok=True)
    _start_from(model_name, target_name, out, start_from, root, log)
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

    _import_cpu_tensor_intrinsics(arm=str(tgt.attrs.get("mtriple", "")).startswith(("aarch64", "arm")))
    # MetaSchedule logs at DEBUG to the console by default (a line per cost-model iteration);
    # INFO keeps its per-batch task table. A level the caller set is left alone.
    ms_logger = logging.getLogger("tvm.s_tir.meta_schedule")
    level_unset = ms_logger.level == logging.NOTSET
    if level_unset:
        ms_logger.setLevel(logging.INFO)
    contexts, weights = extracted_tasks_to_tune_contexts(
        todo, work_dir=str(out / "logs"), seed=seed,
        strategy=ms.search_strategy.EvolutionarySearch(population_size=128, genetic_num_iters=2))
    names = [t.task_name for t in todo]
    queue = None
    if rpc:
        def queue():
            return describe_queue(queue_state(rpc["host"], rpc["port"], rpc["key"]), rpc["key"])
        log(f"RPC tracker {rpc['host']}:{rpc['port']}, {queue()}")
    progress = TuningProgress(budget, dict(zip(names, (int(w) for w in weights))), log=log, bar=progress_bar,
                              queue=queue)
    if level_unset and progress.bar is not None:  # the bar replaces MetaSchedule's per-batch table
        ms_logger.setLevel(logging.WARNING)
    callbacks = ms.MeasureCallback.create("default") + [
        _progress_callback(ms, names, report, progress, ledger, out)]
    f_export = functools.partial(_export_cross, CROSS_COMPILERS[target_name]) if target_name in CROSS_COMPILERS else None
    start = time.time()
    try:
        ms.tune_tasks(
            tasks=contexts, task_weights=weights, work_dir=str(out / "logs"),
            max_trials_global=sum(budget.values()), max_trials_per_task=max(budget.values()),
            num_trials_per_iter=per_iter,
            builder=ms.builder.LocalBuilder(f_build=_build_without_tensor_intrinsics, f_export=f_export,
                                            timeout_sec=600),
            runner=_runner(ms, rpc), database=database, measure_callbacks=callbacks,
            task_scheduler="round-robin")
    finally:
        progress.close()
    report.seconds = time.time() - start
    report.table = progress.table()
    progress.print_table()
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
    imported = out / IMPORT_NOTE
    if imported.is_file() and len(sessions) == 1:  # the first session started from these
        sessions[-1]["started_from"] = json.loads(imported.read_text())["from"]
    path.write_text(json.dumps(sessions, indent=1) + "\n")
