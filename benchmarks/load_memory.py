"""Process memory a loaded model adds, per net and load path, each in a fresh process.

    python benchmarks/load_memory.py                      # A-D; zoo name, file, bytes, C API
    python benchmarks/load_memory.py --nets attonet-a --paths file capi --threads 2
    python benchmarks/load_memory.py --json               # one JSON object per line

A child process imports everything it needs (numpy, attocore._core or the C API library),
allocates its input, then reads /proc/self/smaps_rollup before the load, after it and after
the first run. Printed per net and path: the weight bytes (the file's constants), the
arena, the RSS and private memory each stage added, and the ratio (added - arena) /
weight bytes (1.0: each weight held once, at its stored size). Paths:

  zoo    attocore.load("attonet-a"): seeded weights generated, encoded and loaded
  file   attocore.load(path) of the same net saved to disk
  bytes  attocore.load(open(path, "rb").read()), the bytes dropped after the load
  capi   attocore.capi.load(path) (libattocore through cffi)

Memory only (no timing): safe to run beside other work; a net takes a few seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

NETS = ("attonet-a", "attonet-b", "attonet-c", "attonet-d")
PATHS = ("zoo", "file", "bytes", "capi")
MIB = 2.0 ** 20


def heap_in_use() -> int:
    """Bytes malloc has handed out and not had back (glibc's mallinfo2: every arena, mmapped
    blocks included). Unlike RSS, freed memory that the allocator keeps or reuses does not
    blur it; Python's small-object arenas and raw mmaps are not in it. -1 without glibc 2.33."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in
                    "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
    try:
        f = ctypes.CDLL(None).mallinfo2
    except (AttributeError, OSError):
        return -1
    f.restype = MallInfo2
    m = f()
    return m.uordblks + m.hblkhd


def rollup() -> dict:
    """Kilobyte fields of /proc/self/smaps_rollup, in bytes (Rss, Pss, Private_*, Anonymous),
    and the heap in use."""
    out = {}
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) * 1024
    out["Private"] = out.get("Private_Clean", 0) + out.get("Private_Dirty", 0)
    out["Heap"] = heap_in_use()
    return out


def warm_up(path: str, threads: int):
    """Loads and runs AttoNet-A with every width divided by 8 (0.2 MiB of weights) the same
    way, so code pages and kernel tables are in place: what a measurement after it adds is
    closer to the model's own memory. The caller keeps the model: freed, its memory would be
    reused by the next load and hide part of it."""
    import attocore
    from attocore import capi, zoo
    from attocore import format as fmt
    net = zoo.shrunk(zoo.spec("attonet-a"), 8)
    data = fmt.encode(zoo.build_graph(net, zoo.seeded_params(net)))
    m = capi.load(data, threads=threads) if path == "capi" else attocore.load(data, threads=threads)
    m.run(np.zeros((1,) + zoo.INPUT_SHAPE, np.float32))
    return m


def child(net: str, path: str, file: str, threads: int, warm: bool = False) -> dict:
    """Runs in the fresh process: load one way, run once, report the three snapshots."""
    import gc

    import attocore
    from attocore import capi, zoo
    from attocore.backends import native

    x = np.random.default_rng(0).standard_normal((1,) + zoo.INPUT_SHAPE).astype(np.float32)
    if path == "capi":
        capi.lib()  # the library's own pages belong to "before"
    else:
        native.core()  # the extension's own pages belong to "before"
    kept = warm_up(path, threads) if warm else None  # noqa: F841 (alive until the end)
    gc.collect()
    before = rollup()
    if path == "capi":
        m = capi.load(file, threads=threads)
    elif path == "zoo":
        m = attocore.load(net, threads=threads)
    elif path == "bytes":
        with open(file, "rb") as f:  # the caller's copy counts: it is dropped after the load
            data = f.read()
        m = attocore.load(data, threads=threads)
        del data
    else:
        m = attocore.load(file, threads=threads)
    gc.collect()
    loaded = rollup()
    m.run(x)
    gc.collect()
    ran = rollup()
    return {"before": before, "loaded": loaded, "ran": ran, "arena": m.arena_bytes(1)}


def weight_bytes(file: str) -> int:
    """Bytes of the file's constant tensors (what the weights take at their stored size)."""
    from attocore import format as fmt
    g = fmt.load(file)
    return sum(t.data.nbytes for t in g.tensors.values() if t.is_constant)


def measure(net: str, path: str, file: str, threads: int, warm: bool) -> dict:
    code = ("import json, sys; sys.path.insert(0, %r); import load_memory as lm; "
            "print(json.dumps(lm.child(%r, %r, %r, %d, %r)))" % (os.path.dirname(os.path.abspath(__file__)), net,
                                                                 path, file, threads, warm))
    # cwd: not a source checkout, whose unbuilt attocore/ would shadow the installed one.
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=os.path.dirname(file))
    if out.returncode != 0:
        raise RuntimeError(f"{net} {path}: the child failed:\n{out.stderr}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    weights = weight_bytes(file)
    row = {"net": net, "path": path, "warm": warm, "weights": weights, "arena": r["arena"],
           "file": os.path.getsize(file)}
    for stage in ("loaded", "ran"):
        for field in ("Rss", "Pss", "Private", "Anonymous", "Heap"):
            row[f"{stage}_{field}"] = r[stage][field] - r["before"][field]
    row["ratio"] = (row["ran_Rss"] - r["arena"]) / weights
    row["heap_ratio"] = (row["ran_Heap"] - r["arena"]) / weights
    return row


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nets", nargs="+", default=list(NETS), choices=NETS)
    ap.add_argument("--paths", nargs="+", default=list(PATHS), choices=PATHS)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warm", action="store_true",
                    help="also measure after a warm-up load of a small net (the model's own memory, without the "
                         "process's first-use costs)")
    ap.add_argument("--json", action="store_true", help="one JSON object per measurement")
    args = ap.parse_args(argv)

    from attocore import format as fmt
    from attocore import zoo
    with tempfile.TemporaryDirectory() as tmp:
        if not args.json:
            print("MiB added by the load, and by the load and first run together; w = weight bytes")
            print(f"{'net':<10} {'path':<6} {'process':<8} {'weights':>8} {'arena':>7} {'load RSS':>9} "
                  f"{'+run RSS':>9} {'private':>8} {'PSS':>8} {'heap':>8} {'(RSS-arena)/w':>14} {'(heap-arena)/w':>15}")
        for net in args.nets:
            file = os.path.join(tmp, f"{net}.atto")
            fmt.save(zoo.seeded_graph(net), file)
            for path in args.paths:
                for warm in (False, True) if args.warm else (False,):
                    row = measure(net, path, file, args.threads, warm)
                    if args.json:
                        print(json.dumps(row), flush=True)
                        continue
                    print(f"{net:<10} {path:<6} {'warm' if warm else 'fresh':<8} {row['weights'] / MIB:8.2f} "
                          f"{row['arena'] / MIB:7.2f} {row['loaded_Rss'] / MIB:9.2f} {row['ran_Rss'] / MIB:9.2f} "
                          f"{row['ran_Private'] / MIB:8.2f} {row['ran_Pss'] / MIB:8.2f} {row['ran_Heap'] / MIB:8.2f} "
                          f"{row['ratio']:14.2f} {row['heap_ratio']:15.2f}", flush=True)


if __name__ == "__main__":
    main()
