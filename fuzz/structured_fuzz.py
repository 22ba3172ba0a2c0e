"""Structure-aware fuzzing campaign over the readers and the native executor.

    python fuzz/structured_fuzz.py --seconds 1200 --out build-fuzz/structured [--corpus build-fuzz/corpus-cpp]

Each round makes a valid random graph (fuzz/graph_gen.py: every op and fusion pattern, random
shapes) and checks that
  - both readers (attocore.format and the C++ loader) accept it;
  - the native executor matches the reference path (force_reference: portable kernels, no
    fusion) on every kernel set this CPU has, is bit-identical at 1 and 3 threads, and the C
    API (attocore.capi) gives exactly the pybind module's result;
  - every third graph, quantized with every op int8, gives the numpy integer reference's bits
    on every native path (when no float op feeds a quantize: exact_int8);
then mutates it semantically several times (fuzz/graph_gen.mutate, checksum fixed) and checks
that both readers give the same verdict (accepted, or refused with the same error class),
and that a mutated file both accept runs like the reference too.

Native crashes kill a worker process: the parent saves the file being tried
(OUT/crashes/) and starts a new worker after it. Disagreements and mismatches go to
OUT/findings/ with a line each in OUT/findings.txt. With --corpus, valid graphs (and mutated
ones both readers accept) of at most 64 KiB are written there, seeding fuzz/loader_fuzzer.cpp.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

MUTATIONS_PER_GRAPH = 8
MAX_CORPUS_FILE = 65536
MAX_RUN_MACS = 30_000_000  # keep each reference run (unfused, portable kernels) to tens of ms


def verdict(fn, data) -> str:
    """'ok' or the error class a reader refuses the file with (its message after a colon)."""
    import attocore
    try:
        fn(data)
        return "ok"
    except attocore.AttocoreError as e:
        return f"{type(e).__name__}: {e}"
    except Exception as e:  # anything untyped is a finding in itself
        return f"UNTYPED {type(e).__name__}: {e}"


def reader_verdicts(data: bytes):
    """(Python reader, C++ loader) verdicts for one file."""
    from attocore import _core
    from attocore import format as fmt
    return verdict(fmt.decode, data), verdict(_core.load_bytes, data)


def same_verdict(a: str, b: str) -> bool:
    return a.split(":")[0] == b.split(":")[0]


@contextlib.contextmanager
def kernel_set(isa):
    """ATTOCORE_ISA=isa for the models loaded inside (None: as it was)."""
    saved = os.environ.get("ATTOCORE_ISA")
    if isa is not None:
        os.environ["ATTOCORE_ISA"] = isa
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("ATTOCORE_ISA", None)
        else:
            os.environ["ATTOCORE_ISA"] = saved


def flat_outputs(y) -> np.ndarray:
    """A run's result as one flat array: several outputs (a tuple) laid end to end."""
    return np.concatenate([a.reshape(-1) for a in y]) if isinstance(y, tuple) else y


def check_outputs(graph, data, rng):
    """Mismatches between the native paths and the reference path, as messages (a graph
    with several outputs: all of them, end to end)."""
    import attocore
    from attocore import capi
    problems = []
    c, h, w = graph.metadata.input_shape
    x = rng.standard_normal((2, c, h, w)).astype(np.float32)
    ref_model = attocore.load(data, force_reference=True, threads=1)
    ref = flat_outputs(ref_model.run(x))
    scale = float(np.abs(ref).max()) if ref.size else 0.0
    if not np.isfinite(ref).all() or scale > 1e30:
        return problems  # overflow on random weights: no meaningful comparison
    tol = 1e-4 * scale + 1e-5
    for isa in attocore.available_isas():
        with kernel_set(isa):
            one = attocore.load(data, threads=1)
            y1 = flat_outputs(one.run(x))
            err = float(np.abs(y1 - ref).max())
            if not err <= tol:
                problems.append(f"{isa}: max error {err:.3g} against the reference (tolerance {tol:.3g})")
            y3 = flat_outputs(attocore.load(data, threads=3).run(x))
            if not np.array_equal(y1, y3):
                problems.append(f"{isa}: 1 and 3 threads differ by {float(np.abs(y1 - y3).max()):.3g}")
            if isa == attocore.available_isas()[-1]:
                yc = flat_outputs(capi.load(data, threads=2).run(x))
                if not np.array_equal(yc, y1):
                    problems.append(f"{isa}: the C API differs from pybind by {float(np.abs(yc - y1).max()):.3g}")
    return problems


def exact_int8(graph) -> bool:
    """Whether the graph is int8 from its input's quantize to its output's dequantize: then no
    float32 op's rounding (which differs by kernel set, and from numpy's) enters a result, and
    every path gives the same bits."""
    for op in graph.ops:
        if op.type == "quantize" and op.inputs[0] != graph.inputs[0]:
            return False
        if graph.tensors[op.outputs[0]].dtype == "float32" and not (
                op.type == "dequantize" and op.outputs[0] in graph.outputs):
            return False
    return True


def check_int8_outputs(graph, data, rng):
    """An int8 graph whose results are exact (exact_int8): the native paths (every kernel set,
    fused, 1 and 3 threads; the portable kernels unfused) against the numpy integer reference,
    bit for bit."""
    import attocore
    from attocore.quantize import evaluate
    problems = []
    c, h, w = graph.metadata.input_shape
    x = rng.standard_normal((2, c, h, w)).astype(np.float32)
    want = evaluate.run(graph, x)
    runs = [(None, dict(force_reference=True, threads=1))]
    runs += [(isa, dict(threads=t)) for isa in attocore.available_isas() for t in (1, 3)]
    for isa, kw in runs:
        with kernel_set(isa):
            got = attocore.load(data, **kw).run(x)
        if isinstance(got, tuple):  # evaluate.run gives the first output
            got = got[0]
        if not np.array_equal(got, want):
            problems.append(f"int8 {isa or 'reference'} {kw}: differs from the numpy reference by "
                            f"{float(np.abs(got - want).max()):.3g}")
    return problems


def macs(graph) -> int:
    total = 0
    for op in graph.ops:
        if op.type in ("conv2d", "fully_connected"):
            w = graph.tensors[op.inputs[1]].shape
            out = graph.tensors[op.outputs[0]].shape
            total += int(np.prod(out[1:])) * int(np.prod(w[1:]))
    return total


class Campaign:
    def __init__(self, out, corpus):
        self.out, self.corpus = out, corpus
        os.makedirs(os.path.join(out, "findings"), exist_ok=True)
        if corpus:
            os.makedirs(corpus, exist_ok=True)
        self.stats = {"graphs": 0, "mutants": 0, "mutants_accepted": 0, "mutants_refused": 0, "runs_checked": 0,
                      "int8_runs_checked": 0, "findings": 0}

    def finding(self, seed, what, data, detail):
        self.stats["findings"] += 1
        name = f"seed{seed}-{self.stats['findings']}.atto"
        if data is not None:
            with open(os.path.join(self.out, "findings", name), "wb") as f:
                f.write(data)
        with open(os.path.join(self.out, "findings.txt"), "a") as f:
            f.write(json.dumps({"seed": seed, "file": name, "what": what, "detail": detail[:2000]}) + "\n")

    def mark(self, data):
        """The file a crash would be blamed on."""
        with open(os.path.join(self.out, "current.atto"), "wb") as f:
            f.write(data)

    def to_corpus(self, data, tag):
        if self.corpus and len(data) <= MAX_CORPUS_FILE:
            with open(os.path.join(self.corpus, f"gen-{tag}.atto"), "wb") as f:
                f.write(data)

    def round(self, seed):
        from attocore import format as fmt
        from attocore.graph import validate
        from graph_gen import mutate, quantized_graph, random_graph
        rng = np.random.default_rng(seed)
        graph = random_graph(rng, big=rng.random() < 0.02)
        try:
            validate(graph)
        except Exception as e:
            self.finding(seed, "generator made an invalid graph", None, f"{type(e).__name__}: {e}")
            return
        data = fmt.encode(graph)
        self.stats["graphs"] += 1
        self.mark(data)
        py, cpp = reader_verdicts(data)
        if py != "ok" or cpp != "ok":
            self.finding(seed, "a valid graph was refused", data, f"python: {py} | native: {cpp}")
            return
        self.to_corpus(data, f"{seed}")
        if macs(graph) <= MAX_RUN_MACS:
            self.stats["runs_checked"] += 1
            for p in check_outputs(graph, data, rng):
                self.finding(seed, "valid graph: outputs", data, p)
            # Every third graph also in int8, every op that has an int8 kernel (the fused int8
            # steps, the int8 kernels on random shapes).
            q = quantized_graph(rng, graph, keep_float=()) if seed % 3 == 0 else None
            if q is not None and exact_int8(q):
                data8 = fmt.encode(q)
                self.mark(data8)
                self.stats["int8_runs_checked"] += 1
                for p in check_int8_outputs(q, data8, rng):
                    self.finding(seed, "valid int8 graph: outputs", data8, p)
        for m in range(MUTATIONS_PER_GRAPH):
            what, bad = mutate(rng, graph)
            if bad is None:
                continue
            self.stats["mutants"] += 1
            self.mark(bad)
            py, cpp = reader_verdicts(bad)
            if py.startswith("UNTYPED") or cpp.startswith("UNTYPED") or not same_verdict(py, cpp):
                self.finding(seed, f"readers disagree on '{what}'", bad, f"python: {py} | native: {cpp}")
                continue
            if py != "ok":
                self.stats["mutants_refused"] += 1
                continue
            self.stats["mutants_accepted"] += 1
            self.to_corpus(bad, f"{seed}-m{m}")
            mutated = fmt.decode(bad)
            if macs(mutated) <= MAX_RUN_MACS:
                self.stats["runs_checked"] += 1
                try:
                    problems = check_outputs(mutated, bad, rng)
                except Exception as e:
                    problems = [f"{type(e).__name__}: {e}"]
                for p in problems:
                    self.finding(seed, f"mutant '{what}' accepted: outputs", bad, p)


def worker(args):
    campaign = Campaign(args.out, args.corpus)
    deadline = time.time() + args.seconds
    seed = args.seed
    last = time.time()
    while time.time() < deadline:
        with open(os.path.join(args.out, "seed.txt"), "w") as f:
            f.write(str(seed))
        campaign.round(seed)
        seed += 1
        if time.time() - last > 5 or time.time() >= deadline:
            last = time.time()
            with open(os.path.join(args.out, f"stats-{args.seed}.json"), "w") as f:
                json.dump(dict(campaign.stats, next_seed=seed), f)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--out", default="build-fuzz/structured")
    p.add_argument("--corpus", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--worker", action="store_true")
    args = p.parse_args()
    os.makedirs(os.path.join(args.out, "crashes"), exist_ok=True)
    if args.worker:
        worker(args)
        return 0
    deadline = time.time() + args.seconds
    seed, crashes = args.seed, 0
    while time.time() < deadline:
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", "--seconds",
                               str(deadline - time.time()), "--out", args.out, "--seed", str(seed)] +
                              (["--corpus", args.corpus] if args.corpus else []), capture_output=True, text=True)
        with open(os.path.join(args.out, "seed.txt")) as f:
            at = int(f.read())
        if proc.returncode != 0:
            crashes += 1
            os.replace(os.path.join(args.out, "current.atto"), os.path.join(args.out, "crashes", f"seed{at}.atto"))
            with open(os.path.join(args.out, "crashes", f"seed{at}.txt"), "w") as f:
                f.write(f"exit {proc.returncode}\n{proc.stderr[-5000:]}")
        seed = at + 1
    totals = {}
    for name in os.listdir(args.out):
        if name.startswith("stats-"):
            with open(os.path.join(args.out, name)) as f:
                for k, v in json.load(f).items():
                    if isinstance(v, int) and k != "next_seed":
                        totals[k] = totals.get(k, 0) + v
    totals["crashes"] = crashes
    totals["seeds"] = seed - args.seed
    print(json.dumps(totals))
    return 1 if crashes or totals.get("findings") else 0


if __name__ == "__main__":
    sys.exit(main())
