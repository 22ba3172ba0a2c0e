"""What a tuning session shows while it runs: a progress bar over the session's trials with
the time left (tqdm; on a terminal, or when asked), one line per finished task, and at the end
a table of the tasks by the network time their tuning saved.

"Saved" is task weight x (first candidate measured this session - best), in ms: how much of
the network's estimated time this session's search took off each task.
"""
from __future__ import annotations

import math
import sys
import time


def _fmt_duration(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    return f"{s // 3600}h{s // 60 % 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class TuningProgress:
    """Fed by the session's measure callback after each batch (`batch`); prints through
    `log` (written above the bar when there is one)."""

    def __init__(self, budget: dict, weights: dict, log=print, bar=None, stream=None, queue=None):
        self.budget, self.weights, self.log = budget, weights, log
        self.queue = queue                   # () -> str: the RPC tracker's state, or None
        self.total = sum(budget.values())
        self.trials, self.first_ms, self.best_ms = {}, {}, {}
        self.finished = []
        self.start = time.time()
        self.bar = None
        if bar is not False:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                # bar=None: only on a terminal (tqdm's disable=None), so logs stay clean.
                self.bar = tqdm(total=self.total, unit="trial", file=stream or sys.stderr, dynamic_ncols=True,
                                disable=None if bar is None else False, mininterval=0.5, desc="tuning")
                if self.bar.disable:
                    self.bar = None

    def say(self, line: str):
        if self.bar is not None:
            with self.bar.external_write_mode():  # the line goes above the bar
                self.log(line)
        else:
            self.log(line)

    def estimate_ms(self) -> float:
        return sum(self.best_ms.get(n, 0.0) * w for n, w in self.weights.items())

    def eta(self) -> float:
        done = sum(self.trials.values())
        return (time.time() - self.start) / done * (self.total - done) if done else math.inf

    def batch(self, name: str, times_ms: list, count: int):
        """`count` candidates of task `name` measured; `times_ms` the ones that ran."""
        self.trials[name] = self.trials.get(name, 0) + count
        for t in times_ms:
            self.first_ms.setdefault(name, t)
            self.best_ms[name] = min(self.best_ms.get(name, math.inf), t)
        done = sum(self.trials.values())
        queue = self.queue() if self.queue else ""
        if self.bar is not None:
            self.bar.update(count)
            self.bar.set_postfix_str(f"net ~{self.estimate_ms():.2f} ms" + (f" | {queue}" if queue else ""))
        if self.trials[name] >= self.budget.get(name, 0) and name not in self.finished:
            self.finished.append(name)
            self.say(f"[tune {time.time() - self.start:6.0f}s] done {len(self.finished)}/{len(self.budget)} "
                     f"{name}: best {self.best_ms.get(name, math.nan):.4f} ms "
                     f"(first {self.first_ms.get(name, math.nan):.4f}) | trials {done}/{self.total}, "
                     f"left ~{_fmt_duration(self.eta())} | network estimate {self.estimate_ms():.2f} ms"
                     + (f" | {queue}" if queue else ""))

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def table(self) -> list:
        """Rows (task, weight, trials, first ms, best ms, saved ms), most saved first."""
        rows = []
        for n in self.best_ms:
            w = self.weights.get(n, 1)
            rows.append((n, w, self.trials.get(n, 0), self.first_ms[n], self.best_ms[n],
                         w * (self.first_ms[n] - self.best_ms[n])))
        return sorted(rows, key=lambda r: -r[5])

    def print_table(self):
        rows = self.table()
        if not rows:
            return
        wn = max(len("task"), max(len(r[0]) for r in rows))
        self.say(f"{'task':<{wn}} {'weight':>6} {'trials':>6} {'first ms':>10} {'best ms':>10} {'saved ms':>10}")
        for n, w, k, first, best, saved in rows:
            self.say(f"{n:<{wn}} {w:>6} {k:>6} {first:>10.4f} {best:>10.4f} {saved:>10.4f}")
        self.say(f"{'network (weighted sum)':<{wn}} {'':>6} {sum(r[2] for r in rows):>6} "
                 f"{sum(r[1] * r[3] for r in rows):>10.4f} {sum(r[1] * r[4] for r in rows):>10.4f} "
                 f"{sum(r[5] for r in rows):>10.4f}")
