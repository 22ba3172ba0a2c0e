"""The ARM model's method checked where it can be: on this x86 machine, with its AVX-512
kernels, llvm-mca's and OSACA's models of this CPU, and the machine's own constants, against
per-step times measured by the runtime's profiler (`attocore bench --profile`'s source).

Machine constants are measured here, never fitted to the timings being predicted: the clock
from the runtime's FMA peak loop (sampled between the timed runs, scaled by wall / CPU time
around each call so time slices other processes took do not count, the best sample / 32: two
512-bit FMA ports x 16 lanes, which llvm-mca's icelake-server model also assumes; --ghz
overrides it), the cache sizes from sysfs, bandwidths from numpy copies that fit each level
(CPU time, the best of samples taken between the runs). A single efficiency factor (measured / predicted over
the validated nets) is then fitted and the errors shown with and without it.
"""
from __future__ import annotations

import os
import time

import numpy as np

from . import kernels, predict, work

FMA_PORTS_ZMM = 2


def _cache_bytes(index):
    try:
        with open(f"/sys/devices/system/cpu/cpu0/cache/index{index}/size") as f:
            s = f.read().strip()
        return int(s[:-1]) * (1024 if s.endswith("K") else 1 << 20) if s[-1] in "KM" else int(s)
    except OSError:
        return None


def copy_bandwidth(nbytes, repeats=20):
    a = np.ones(nbytes // 8, dtype=np.float32)
    b = np.empty_like(a)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.thread_time()  # CPU time: slices given to other processes do not count
        np.copyto(b, a)
        best = min(best, time.thread_time() - t0)
    return 2 * a.nbytes / max(best, 1e-9)  # read + write


def cache_sizes():
    return _cache_bytes(2) or (1 << 20), _cache_bytes(3) or (32 << 20)


def bandwidths():
    """(L2, L3, DRAM) copy bandwidths, bytes/s."""
    l2, l3 = cache_sizes()
    return (copy_bandwidth(l2 // 2), copy_bandwidth(min(l3 // 4, 8 << 20), 10),
            copy_bandwidth(max(4 * l3, 256 << 20), 3))


def host_machine(log, peak, bws, ghz_override=None):
    """bws: bandwidth samples taken during the runs; the best of each level is used."""
    ghz = ghz_override or peak / (16 * FMA_PORTS_ZMM)
    l2, l3 = cache_sizes()
    bw_l2, bw_l3, bw_dram = (max(b[i] for b in bws) for i in range(3))
    log(f"host: FMA peak {peak:.1f} G MAC/s ({peak / (16 * FMA_PORTS_ZMM):.2f} GHz-equivalent), clock used "
        f"{ghz:.2f} GHz{' (--ghz)' if ghz_override else ''}; L2 {l2 >> 10} KiB {bw_l2 / 1e9:.1f} GB/s, "
        f"L3 {l3 >> 20} MiB {bw_l3 / 1e9:.1f} GB/s, DRAM {bw_dram / 1e9:.1f} GB/s (numpy copies, 1 thread)")
    return predict.Machine("this x86 host", "x86_64", None, "icelake-server", "ICX", "llvm-mca", ghz, FMA_PORTS_ZMM,
                           ((l2, bw_l2, False), (l3, bw_l3, True), (None, bw_dram, True)), 0.0)


def measure(model, runs, peaks, bws):
    """Whole-net and profiled runs alternating (both see the same machine), with the FMA peak
    sampled between them (peaks: appended; the clock is taken from their best)."""
    from attocore import _core
    x = np.random.default_rng(0).standard_normal((1,) + model.input_shape).astype(np.float32)
    for _ in range(5):
        model.run(x)
    whole, cpu, prof = [], [], []
    for i in range(runs):
        t0, c0 = time.perf_counter(), time.thread_time()
        model.run(x)
        whole.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        prof.append(model.profile(x)[1])
        if i % 10 == 0:
            # The peak loop times itself by the wall clock; scaled by wall / CPU time around the
            # call it is the rate of the core while this thread held it.
            t0, c0 = time.perf_counter(), time.thread_time()
            peak = _core.fma_peak_gmacs(0.05)
            peaks.append(peak * (time.perf_counter() - t0) / max(time.thread_time() - c0, 1e-9))
        if i % 20 == 0:
            bws.append(bandwidths())
    steps = [(np.median([p[i][3] for p in prof]), np.percentile([p[i][3] for p in prof], 10))
             for i in range(len(prof[0]))]
    return (float(np.median(whole)), float(np.percentile(whole, 10)), steps, float(np.median(cpu)),
            float(np.percentile(cpu, 10)))


def main(args):
    print("## Validation on this x86 machine (AVX-512 kernels, 1 thread)")
    print()
    load = os.getloadavg()
    print(f"conditions: load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min) at the start, "
          f"{args.runs} timed runs per net (whole-net and profiled), {os.cpu_count()} CPUs")
    table = kernels.AVX512
    results = {}
    all_steps = {}
    for net in args.nets:
        model = work.load_model(work.resolve_net(net), threads=1)
        if model.isa != "avx512":
            raise SystemExit(f"--validate models the AVX-512 table; this CPU runs {model.isa}")
        steps = work.steps_of(model)
        all_steps[net] = (model, steps)
    ks, shapes = set(), set()
    for _, steps in all_steps.values():
        ks |= predict.fixed_ks(table, steps)
        shapes |= predict.stem_shapes(table, steps)
    peaks, bws = [], []
    measured = {net: measure(model, args.runs, peaks, bws) for net, (model, _) in all_steps.items()}
    m = host_machine(print, max(peaks), bws, args.ghz)
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")
    costs = predict.loop_costs(table, m, ks, shapes)
    print()
    print("| kernel | FMAs/iter | llvm-mca cyc/iter | OSACA cyc/iter | share of FMA bound (llvm-mca) |")
    print("|---|---|---|---|---|")
    for c in costs.values():
        print(f"| {c.kernel} | {c.fmas} | {c.cycles['llvm-mca']:.1f} | {c.cycles['osaca']:.1f} | "
              f"{c.fmas / (c.cycles['llvm-mca'] * FMA_PORTS_ZMM):.0%} |")
    mismatches = 0
    for net, (model, steps) in all_steps.items():
        whole_med, whole_p10, steps_measured, cpu_med, cpu_p10 = measured[net]
        preds = {est: predict.estimate_steps(table, costs, m, steps, 1, est) for est in ("llvm-mca", "osaca")}
        for s, e in zip(steps, preds["llvm-mca"]):
            reported = [k for k in s.kernel.split(":")[-1].split("+") if k.endswith(table.isa)]
            if ":" in s.kernel and any(k not in e.kernels for k in reported):
                mismatches += 1
                print(f"kernel mirror mismatch: {s.name}: runtime {s.kernel}, model {e.kernels}")
        results[net] = (cpu_med, cpu_p10, steps_measured, preds, steps, whole_med, whole_p10)
    factor = {}
    for est in ("llvm-mca", "osaca"):
        pred = sum(sum(e.seconds for e in r[3][est]) for r in results.values())
        factor[est] = sum(sum(t10 for _, t10 in r[2]) for r in results.values()) / pred
    print()
    print(f"fitted efficiency factor (sum of the steps' measured p10s / sum predicted over {', '.join(results)}): "
          f"llvm-mca {factor['llvm-mca']:.3f}, OSACA {factor['osaca']:.3f}")
    print()
    print("Measured net time = the sum of its steps' p10s from the profiler (each step's least disturbed runs; "
          "on a loaded machine whole runs are cut by time slices given to others); the whole-net wall-clock "
          "and CPU-time (calling thread) medians beside it. Errors against the sum of step p10s.")
    print()
    print("| net | sum of step p10s ms | wall ms median (p10) | CPU ms median | llvm-mca pred ms (err) |"
          " OSACA pred ms (err) | llvm-mca x factor (err) |")
    print("|---|---|---|---|---|---|---|")
    for net, (med, p10, measured, preds, _, wmed, wp10) in results.items():
        pl = sum(e.seconds for e in preds["llvm-mca"])
        po = sum(e.seconds for e in preds["osaca"])
        ps = sum(t10 for _, t10 in measured)
        f = factor["llvm-mca"]
        print(f"| {net} | {ps * 1e3:.3f} | {wmed * 1e3:.3f} ({wp10 * 1e3:.3f}) | {med * 1e3:.3f} | "
              f"{pl * 1e3:.3f} ({pl / ps - 1:+.0%}) | {po * 1e3:.3f} ({po / ps - 1:+.0%}) | "
              f"{pl * f * 1e3:.3f} ({pl * f / ps - 1:+.0%}) |")
    for net, (med, p10, measured, preds, steps, _, _) in results.items():
        print()
        print(f"### {net}: per step ({args.runs} profiled runs: p10, median in brackets)")
        print()
        print("| step | MMACs | measured p10 ms (median) | llvm-mca pred ms (err) | x factor err | OSACA pred ms (err) | bound |")
        print("|---|---|---|---|---|---|---|")
        for s, (t, t10), el, eo in zip(steps, measured, preds["llvm-mca"], preds["osaca"]):
            bound = "memory " + el.level if el.memory_s > el.compute_s else "compute"
            print(f"| {s.name} | {s.macs / 1e6:.2f} | {t10 * 1e3:.3f} ({t * 1e3:.3f}) | {el.seconds * 1e3:.3f} "
                  f"({el.seconds / t10 - 1:+.0%}) | {el.seconds * factor['llvm-mca'] / t10 - 1:+.0%} | "
                  f"{eo.seconds * 1e3:.3f} ({eo.seconds / t10 - 1:+.0%}) | {bound} |")
    print()
    print(f"kernel mirror: {mismatches} step(s) whose runtime kernel the model did not pick")
    return 0
