"""backend="tvm": the model compiled by TVM for this machine on first run (cached), run by
the Relax VM.

    model = attocore.load("d.atto", backend="tvm")     # compiles for the host on first run
    attocore.run("attonet-d", image, backend="tvm")

Needs `pip install "attocore[tvm]"`. MetaSchedule records (attocore.backends.tvm.tune) are
applied when some exist for the net (this CPU's own, else those of the nearest CPU of a
compatible instruction set: records.resolve_records); compiling prints one line to stderr
saying which records, or that it compiles untuned. Without records TVM's CPU pipeline applies no schedule at
all and runs ~15x slower than the native backend. Either way it is the second, independent
execution path that keeps the hand-written kernels honest.
"""
from __future__ import annotations

import os
import sys

import numpy as np

from ...graph_summary import summarize
from ..base import Backend
from .build import compile_cached
from .library import load_tvm
from .records import model_slug, resolve_records
from .target import check_name, target, target_label

_pool_threads = [0]  # TVM's runtime thread pool is process-wide: its size as last set
_all_cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None


def _unpin_caller():
    """TVM's thread pool pins the calling thread to one core. Undo it: threads this thread
    starts later (attocore's own pool, other runtimes') would inherit the one-core mask."""
    if _all_cpus and os.sched_getaffinity(0) != _all_cpus:
        os.sched_setaffinity(0, _all_cpus)


def _use_threads(threads: int):
    """Resize TVM's thread pool when a model with another thread count runs (0: all cores)."""
    n = threads or os.cpu_count() or 1
    if _pool_threads[0] != n:
        tvm, _ = load_tvm()
        tvm.get_global_func("runtime.config_threadpool")(1, n)  # 1: big cores first
        _pool_threads[0] = n


class TvmBackend(Backend):
    """Compiles on first run and runs through the Relax VM.

    tuned: None applies tuning records when some are found for this net and target, or for a
    CPU of a compatible instruction set (records.resolve_records), True requires them
    (FileNotFoundError here if there are none), False compiles untuned. `status` receives the
    line saying which records the compilation uses (default: printed to stderr)."""
    kind = "tvm"

    def __init__(self, graph, target_name: str = "host", threads: int = 0, tuned=None, records_root=None,
                 status=None):
        check_name(target_name)
        if target_name != "host":
            raise ValueError(f"target '{target_name}' is for cross-compiling (attocore export-tvm); "
                             "run on this machine with target='host'")
        from .build import check_single_output
        check_single_output(graph)  # here, not at the first run
        self.graph = graph
        self.target_name = target_name
        self.requested_threads = threads
        self.records = None
        self.records_note = "untuned (tuned=False)"
        if tuned is not False:
            # This CPU's own records, else those of a CPU of a compatible instruction set.
            choice = resolve_records(model_slug(graph), target_name, records_root)
            self.records, self.records_note = choice.records_dir, choice.note
            if tuned and self.records is None:
                raise FileNotFoundError(
                    f"no tuning records for {model_slug(graph)} on {target_label(target_name)}; "
                    f"run: attocore tune {model_slug(graph)} --target {target_name}")
        self.status = status or (lambda line: print(line, file=sys.stderr, flush=True))
        self.compiled = None
        self.scheduled = 0        # functions the records scheduled, known once compiled
        self.from_cache = False   # the compiled library came from the cache

    @property
    def threads(self) -> int:
        return self.requested_threads or os.cpu_count() or 1

    @property
    def macs(self) -> int:
        return summarize(self.graph).macs

    def status_line(self) -> str:
        """What the compilation uses: 'compiling for host-icelake-server with records of
        host-rocketlake (nearest compatible: AVX-512)', '... untuned: no records ...'."""
        return f"compiling for {target_label(self.target_name)} {self.records_note}"

    def run(self, x: np.ndarray) -> np.ndarray:
        """Compiled once, for batch 1 (the shapes tuning records are keyed by); a batch runs
        sample by sample."""
        tvm, _ = load_tvm()
        if self.compiled is None:
            self.status(self.status_line())
            self.compiled = compile_cached(self.graph, target(self.target_name, self.requested_threads), self.records)
            self.scheduled, self.from_cache = self.compiled.scheduled, self.compiled.from_cache
        vm, weights = self.compiled.vm, self.compiled.weights
        _use_threads(self.requested_threads)
        nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        try:
            outs = [vm["main"](tvm.runtime.tensor(nhwc[i:i + 1]), *weights).numpy() for i in range(x.shape[0])]
        finally:
            _unpin_caller()
        out = np.concatenate(outs, axis=0)
        # The module computes NHWC inside; a feature-map output is NCHW, as the other backends give it.
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2)) if out.ndim == 4 else out
