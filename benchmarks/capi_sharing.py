"""How attocore.capi should make one model safe to share between Python threads: one C
session behind a lock, or a session per thread. Measures wall time and peak memory for N
threads each running R inferences, every variant in its own process.

    python benchmarks/capi_sharing.py [--net attonet-c] [--hw 160] [--runs 40]
"""
import argparse
import json
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import json, sys, threading, time
    import numpy as np
    from attocore import capi, zoo, format as fmt
    variant, n_threads, session_threads, runs, net, hw = sys.argv[1], *map(int, sys.argv[2:5]), sys.argv[5], int(sys.argv[6])
    data = fmt.encode(zoo.seeded_graph(net, input_hw=hw))
    model = capi.load(data, threads=session_threads)
    lib, ffi = capi.lib(), capi.ffi()
    x = np.random.default_rng(0).standard_normal((1, 3, hw, hw)).astype(np.float32)
    model.run(x)
    local = threading.local()
    def own_session():
        if not hasattr(local, "s"):
            opts = ffi.new("attocore_session_options*")
            lib.attocore_session_options_init(opts)
            opts.threads = session_threads
            ptr = ffi.new("attocore_session**")
            assert lib.attocore_session_create(model._model, opts, ptr) == 0
            local.s = ffi.gc(ptr[0], lib.attocore_session_free)
        return local.s
    def run_own(x):
        out = np.empty((1, 51), np.float32)
        assert lib.attocore_session_run_checked(own_session(), ffi.cast("const float*", x.ctypes.data), x.size, 1,
                                                ffi.cast("float*", out.ctypes.data), out.size) == 0
        return out
    run = model.run if variant == "lock" else run_own
    from attocore.testing.memory import peak_rss_bytes
    base = peak_rss_bytes()
    def worker():
        for _ in range(runs):
            run(x)
    t0 = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(n_threads)]
    for p in pool: p.start()
    for p in pool: p.join()
    dt = time.perf_counter() - t0
    grown = peak_rss_bytes() - base
    print(json.dumps({"ms_per_run": 1e3 * dt / (n_threads * runs), "extra_rss_mib": grown / 2**20}))
""")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--net", default="attonet-c")
    p.add_argument("--hw", type=int, default=160)
    p.add_argument("--runs", type=int, default=40)
    a = p.parse_args()
    print(f"{a.net} {a.hw}x{a.hw}, batch 1, {a.runs} runs per Python thread")
    print(f"{'threads':>8} {'session threads':>16} {'lock ms/run':>12} {'per-thread ms/run':>18} "
          f"{'lock +RSS MiB':>14} {'per-thread +RSS MiB':>20}")
    for n in (1, 4, 8):
        for st in (1, 0):
            row = {}
            for variant in ("lock", "per-thread"):
                out = subprocess.run([sys.executable, "-c", CHILD, variant, str(n), str(st), str(a.runs), a.net,
                                      str(a.hw)], capture_output=True, text=True, check=True)
                row[variant] = json.loads(out.stdout)
            print(f"{n:>8} {st if st else 'all':>16} {row['lock']['ms_per_run']:>12.2f} "
                  f"{row['per-thread']['ms_per_run']:>18.2f} {row['lock']['extra_rss_mib']:>14.1f} "
                  f"{row['per-thread']['extra_rss_mib']:>20.1f}")


if __name__ == "__main__":
    main()
