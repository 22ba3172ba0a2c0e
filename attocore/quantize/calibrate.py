"""Activation ranges from calibration data: each tensor that becomes int8 gets the range its
scale and zero point cover, by one of three methods.

minmax: the smallest and largest value seen (no clipping; one outlier widens every step).
percentile: the 0.001st and 99.999th percentiles of the values seen (clips rare outliers).
entropy: TensorRT's choice, the clipping threshold whose 128-level histogram has the least
KL divergence from the full 2048-bin one (on |x|, applied to the side the data lie on).
"""
from __future__ import annotations

import numpy as np

METHODS = ("minmax", "percentile", "entropy")
PERCENTILE = 99.999
SAMPLE = 1 << 18  # values kept per tensor and batch for the percentile and entropy methods


class Observer:
    def __init__(self, method: str):
        self.method = method
        self.lo, self.hi = np.inf, -np.inf
        self.samples = []
        self.rng = np.random.default_rng(0)

    def update(self, x: np.ndarray) -> None:
        flat = x.reshape(-1)
        self.lo, self.hi = min(self.lo, float(flat.min())), max(self.hi, float(flat.max()))
        if self.method != "minmax":
            if flat.size > SAMPLE:
                flat = flat[self.rng.integers(0, flat.size, SAMPLE)]
            self.samples.append(flat.astype(np.float32))

    def range(self) -> tuple:
        if self.method == "minmax" or not self.samples:
            return self.lo, self.hi
        v = np.concatenate(self.samples)
        if self.method == "percentile":
            lo, hi = np.percentile(v, [100 - PERCENTILE, PERCENTILE])
            return max(self.lo, float(lo)), min(self.hi, float(hi))
        # Exact zeros (ReLU's) are one code whatever the threshold: they would only pull it down.
        a = np.abs(v)
        t = _entropy_threshold(a[a > 0])
        return max(self.lo, -t), min(self.hi, t)


def _entropy_threshold(a: np.ndarray, bins: int = 2048, levels: int = 128) -> float:
    top = float(a.max()) if a.size else 0.0
    if top <= 0:
        return 0.0
    hist, edges = np.histogram(a, bins=bins, range=(0, top))
    hist = hist.astype(np.float64)
    best, best_kl = top, np.inf
    for i in range(levels, bins + 1, 16):
        p = hist[:i].copy()
        p[i - 1] += hist[i:].sum()  # what the threshold clips lands in its last bin
        # The same i bins seen through `levels` levels: each level's mass spread over its
        # non-empty bins.
        chunks = np.array_split(hist[:i], levels)
        q = np.concatenate([np.where(c > 0, c.sum() / max(1, np.count_nonzero(c)), 0) for c in chunks])
        ps, qs = p.sum(), q.sum()
        if ps == 0 or qs == 0:
            continue
        p, q = p / ps, q / qs
        mask = p > 0
        kl = float(np.sum(p[mask] * np.log(p[mask] / np.maximum(q[mask], 1e-12))))
        if kl < best_kl:
            best_kl, best = kl, float(edges[i])
    return best
