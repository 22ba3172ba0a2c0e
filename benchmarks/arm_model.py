"""ARM speed without a board: attocore's NEON kernels costed by llvm-mca and OSACA, combined
with each step's work and bytes into latencies for a Raspberry Pi 3B+, 4 and 5.

    python benchmarks/arm_model.py                       # loop table, per-net estimates
    python benchmarks/arm_model.py --layers --nets attonet-d --boards pi4
    python benchmarks/arm_model.py --validate            # the same model on x86 vs measured
    python benchmarks/arm_model.py --kernels-only        # just the loop table

How (details in benchmarks/perfmodel/*.py docstrings): each kernel source is compiled with
the cross compiler for the core's -mcpu; the hot loop of each table entry is found in the
assembly (the innermost loop with the most FMAs on its hottest path, reached from the table's
function); llvm-mca and OSACA give its cycles per iteration. The steps, their kernels and
shapes come from attocore's own plan of the net; a step costs max(FMAs x cycles per FMA,
activation bytes / bandwidth of the cache level that holds them) plus its weights' bytes
over the bandwidth of the level that holds all the net's weights. --validate runs the same model for
the AVX-512 kernels on this machine and compares it with `attocore bench --profile` timings.
Needs llvm-mca (Debian: llvm), aarch64-linux-gnu-g++ and, for the A72/A76 rows, osaca; the
pi4-armv7 board (the ARMv7 build) arm-linux-gnueabihf-g++, without which it is left out, saying so.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from perfmodel import asm_loops, boards, kernels, predict, work  # noqa: E402
from perfmodel.report import net_table_header, net_table_row  # noqa: E402

NETS = ["attonet-a", "attonet-b", "attonet-c", "attonet-d", "mobilenet-v2"]

# MobileNet-V2 fp32 at 224x224, published: board (as this model names it), threads, ms, who.
# The issue quoted XNNPACK's Pi 4 figure as 46 ms on arm64; its README (the table dated
# 2020-02-12) gives 44 ms, measured on Raspbian Buster, a 32-bit OS, on the 1.5 GHz boards of
# the time: the pi4-armv7 board. ncnn's README names neither OS nor build.
PUBLISHED = [
    ("pi4-armv7", 4, 44.0, "XNNPACK README, Raspberry Pi 4, multi-threaded (Raspbian Buster 32-bit, 2020-02)"),
    ("pi4", 4, 61.9, "ncnn benchmark README, Raspberry Pi 4 (1.8 GHz), 4 threads"),
    ("pi4-armv7", 4, 72.6, "ncnn benchmark README, Raspberry Pi 4 at 1.5 GHz, 4 threads (OS not stated)"),
    ("pi5", 1, 16.4, "ncnn benchmark README, Raspberry Pi 5, 1 thread (fp16 arithmetic)"),
]


def table_for(core) -> kernels.Table:
    """The kernel table a core's build runs: the aarch64 NEON table, or the ARMv7 one."""
    return kernels.NEON_ARMV7 if core.target == "armv7" else kernels.NEON


def kernel_table(costs_by_core):
    print("## Hot loops of the NEON kernels (aarch64; ARMv7 for a core marked so), per core")
    print()
    print("share = FMAs per iteration / (cycles per iteration x the core's 128-bit FMAs per cycle); "
          "primary estimate marked *")
    print()
    print("| kernel | loop in | FMAs/iter | insns | core | llvm-mca cyc/iter | OSACA cyc/iter | share of FMA bound |")
    print("|---|---|---|---|---|---|---|---|")
    for core_key, costs in costs_by_core.items():
        core = boards.CORES[core_key]
        for c in costs.values():
            lm = c.cycles.get("llvm-mca")
            os_ = c.cycles.get("osaca")
            prim = c.cycles[core.primary]
            share = c.fmas / (prim * core.fma_per_cycle)
            fn = c.function.replace("(anonymous namespace)::", "").replace("attocore::", "").split("(")[0]
            fn = fn.split(" ", 1)[1] if fn.startswith("void ") else fn
            print(f"| {c.kernel} | {fn} | {c.fmas} | {c.instructions} | {core.name} | "
                  f"{'' if lm is None else f'{lm:.1f}'}{'*' if core.primary == 'llvm-mca' else ''} | "
                  f"{'' if os_ is None else f'{os_:.1f}'}{'*' if core.primary == 'osaca' else ''} | {share:.0%} |")
    print()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nets", nargs="+", default=NETS)
    ap.add_argument("--boards", nargs="+", default=list(boards.BOARDS), choices=list(boards.BOARDS))
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 4])
    ap.add_argument("--cores", nargs="+", default=["cortex-a53", "cortex-a55", "cortex-a72", "cortex-a76"],
                    choices=list(boards.CORES), help="cores of the loop table")
    ap.add_argument("--layers", action="store_true", help="per-step estimates too")
    ap.add_argument("--kernels-only", action="store_true")
    ap.add_argument("--validate", action="store_true", help="x86: predicted vs measured (slow: times the nets)")
    ap.add_argument("--runs", type=int, default=60, help="--validate: timed runs per net")
    ap.add_argument("--x86-factor", type=float, default=None,
                    help="multiply compute times by this efficiency factor (the one --validate fitted on x86: "
                         "what the loop model misses there, assumed to carry over)")
    ap.add_argument("--ghz", type=float, help="--validate: this clock instead of the one the measured FMA peak "
                                               "implies (on a machine others load, the peak measures a CPU share)")
    args = ap.parse_args(argv)

    if args.validate:
        from perfmodel import validate
        return validate.main(args)

    nets = {n: work.steps_of(work.load_model(work.resolve_net(n))) for n in ([] if args.kernels_only else args.nets)}
    costs_by_core = {}
    for core_key in dict.fromkeys(args.cores + [boards.BOARDS[b].core for b in args.boards]):
        core = boards.CORES[core_key]
        table = table_for(core)
        cxx = asm_loops.TARGETS[table.target]["cxx"]
        if shutil.which(cxx) is None and table.target != "aarch64":  # aarch64's compiler stays required
            left_out = [b for b in args.boards if boards.BOARDS[b].core == core_key]
            print(f"note: {core.name} left out ({cxx} not found), and with it the board(s) {', '.join(left_out) or '-'}")
            args.cores = [c for c in args.cores if c != core_key]
            args.boards = [b for b in args.boards if b not in left_out]
            continue
        ks, shapes = {4, 5, 6, 7, 8}, set()
        for steps in nets.values():
            ks |= predict.fixed_ks(table, steps)
            shapes |= predict.stem_shapes(table, steps)
        m = predict.Machine(core.name, table.target, core.mcpu, core.llvm_mca, core.osaca, core.primary, 1.0,
                            core.fma_per_cycle, ((None, 1.0, True),), 0.0)
        costs_by_core[core_key] = predict.loop_costs(table, m, ks, shapes)
    kernel_table({k: v for k, v in costs_by_core.items() if k in args.cores})
    if args.kernels_only:
        return 0

    totals = {}
    for b in args.boards:
        board = boards.BOARDS[b]
        core = boards.CORES[board.core]
        m = predict.board_machine(board, core)
        for net, steps in nets.items():
            for t in args.threads:
                est = predict.estimate_steps(table_for(core), costs_by_core[board.core], m, steps, threads=t,
                                             compute_factor=args.x86_factor or 1.0)
                totals[(net, b, t)] = est
    if args.layers:
        for (net, b, t), est in totals.items():
            print(f"## {net} on {boards.BOARDS[b].name}, {t} thread{'s' if t > 1 else ''}")
            print()
            print("| step | kernels | MMACs | compute ms | activations ms (level) | weights ms | est ms |")
            print("|---|---|---|---|---|---|---|")
            for e in est:
                print(f"| {e.name} | {e.kernels} | {e.macs / 1e6:.2f} | {e.compute_s * 1e3:.3f} | "
                      f"{e.memory_s * 1e3:.3f} ({e.level}) | {e.weights_s * 1e3:.3f} | {e.seconds * 1e3:.3f} |")
            print()
    factor = f", compute x {args.x86_factor} (x86 factor)" if args.x86_factor else ""
    print(f"## Estimated latency per net (batch 1, fp32, NEON kernels{factor})")
    print()
    print(net_table_header("est ms"))
    for (net, b, t), est in totals.items():
        print(net_table_row(net, b, t, sum(e.seconds for e in est) * 1e3))
    print()
    print("Boards: " + "; ".join(f"{k}: {v.sources}" for k, v in boards.BOARDS.items() if k in args.boards))
    for k in args.boards:
        b = boards.BOARDS[k]
        dram = (f"{b.dram_measured_gbs} GB/s ({b.dram_measured_source})" if b.dram_measured_gbs else
                f"{boards.SUSTAINED:.0%} of its theoretical {b.dram_gbs} GB/s (assumed)")
        print(f"{k}: DRAM {dram}; {b.ghz} GHz")
    if "mobilenet-v2" in nets:
        print()
        print("## MobileNet-V2 (fp32, 224) beside published figures")
        print()
        print("| board | threads | attocore est ms | published ms | source | est / published |")
        print("|---|---|---|---|---|---|")
        for b, t, ms, src in PUBLISHED:
            est = totals.get(("mobilenet-v2", b, t))
            if est is None:
                continue
            e = sum(x.seconds for x in est) * 1e3
            print(f"| {b} | {t} | {e:.1f} | {ms} | {src} | {e / ms:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
