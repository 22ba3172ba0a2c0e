"""Cycles per loop iteration from llvm-mca and OSACA.

llvm-mca simulates the loop text for `-iterations` iterations on the core's scheduling
model: cycles per iteration = Total Cycles / Iterations (steady state, loop-carried
dependencies included). OSACA gives a port-pressure throughput (TP) and the loop-carried
dependency chain (LCD); its estimate is max(TP, LCD), a lower bound (no front end, no
in-order stalls). Neither sees caches: every load hits L1.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ITERATIONS = 200


class ToolMissing(RuntimeError):
    pass


def llvm_mca_path():
    for name in ("llvm-mca", "llvm-mca-14", "llvm-mca-15", "llvm-mca-16"):
        p = shutil.which(name)
        if p:
            return p
    return None


def osaca_path():
    here = os.path.join(os.path.dirname(sys.executable), "osaca")
    return here if os.path.exists(here) else shutil.which("osaca")


def _write(text: str) -> str:
    d = os.path.join(tempfile.gettempdir(), "attocore-perfmodel")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, hashlib.sha1(text.encode()).hexdigest()[:16] + ".s")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def _cached(fn):
    """Results kept on disk, one file per tool, arguments and loop text (OSACA takes seconds
    a loop; one file each, so concurrent runs never lose each other's entries)."""
    root = os.path.join(tempfile.gettempdir(), "attocore-perfmodel", "mca-cache")

    @functools.wraps(fn)
    def wrapper(text, *args):
        key = hashlib.sha1(repr((fn.__name__, args, text)).encode()).hexdigest()
        path = os.path.join(root, key + ".json")
        try:
            with open(path, encoding="utf-8") as f:
                v = json.load(f)
            return tuple(v) if isinstance(v, list) else v
        except (OSError, ValueError):
            pass
        v = fn(text, *args)
        os.makedirs(root, exist_ok=True)
        tmp = f"{path}.{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(v, f)
        os.replace(tmp, path)
        return v

    return functools.lru_cache(maxsize=None)(wrapper)


@_cached
def llvm_mca_cycles(text: str, triple: str, mcpu: str) -> float:
    tool = llvm_mca_path()
    if tool is None:
        raise ToolMissing("llvm-mca not found (Debian: apt-get install llvm)")
    proc = subprocess.run([tool, f"-mtriple={triple}", f"-mcpu={mcpu}", f"-iterations={ITERATIONS}", _write(text)],
                          capture_output=True, text=True)
    m = re.search(r"Total Cycles:\s+(\d+)", proc.stdout)
    if proc.returncode != 0 or not m:
        raise RuntimeError(f"llvm-mca -mcpu={mcpu} failed: {proc.stderr[-1500:]}")
    return int(m.group(1)) / ITERATIONS


def parse_osaca(report: str) -> tuple:
    """(throughput, loop-carried dependency, instructions without data) from OSACA's text."""
    lines = report.splitlines()
    head = next(i for i, l in enumerate(lines) if "||  CP  |" in l and "LCD" in l)
    header = lines[head]
    bars = [i for i, ch in enumerate(header) if ch == "|"]
    cp_col = header.index("||")
    port_spans = [(bars[j] + 1, bars[j + 1]) for j in range(len(bars) - 1) if bars[j + 1] <= cp_col]
    # The totals line follows the per-instruction rows (which all carry a '|').
    i = head + 2
    while i < len(lines) and "|" in lines[i]:
        i += 1
    while i < len(lines) and not lines[i].strip():
        i += 1
    totals = lines[i]

    def number(a, b):
        s = totals[a:b].strip() if a < len(totals) else ""
        try:
            return float(s)
        except ValueError:
            return 0.0

    tp = max((number(a, b) for a, b in port_spans), default=0.0)
    rest = totals[cp_col:].split()
    lcd = float(rest[-1]) if rest else 0.0
    unknown = sum(1 for l in lines[head + 1:i] if re.search(r"\|\|[^|]*\|[^|]*\| X ", l))
    m = re.search(r"Loop-Carried Dependencies Analysis Report\s*\n-+\n\s*\d+\s*\|\s*([\d.]+)", report)
    if m:
        lcd = max(lcd, float(m.group(1)))
    return tp, lcd, unknown


@_cached
def osaca_cycles(text: str, arch: str) -> tuple:
    """(cycles per iteration, instructions OSACA has no data for, counted as free)."""
    tool = osaca_path()
    if tool is None:
        raise ToolMissing("osaca not found (pip install osaca)")
    path = _write(text)
    n = len(text.strip().splitlines())
    # Instructions missing from OSACA's data (e.g. vector register moves on A72) are counted
    # as free (--ignore-unknown).
    proc = subprocess.run([tool, "--arch", arch, "--ignore-unknown", "--lines", f"1-{n}", path], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"osaca --arch {arch} failed: {proc.stderr[-1500:]}")
    tp, lcd, unknown = parse_osaca(proc.stdout)
    return max(tp, lcd), unknown
