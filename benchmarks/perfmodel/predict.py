"""Loop costs per kernel and core, and per-step latency from them.

A step's compute time is the sum over its parts of (vector FMAs the part executes) x (cycles
per FMA of its kernel's hot loop), plus one cycle per vector store of the tile epilogues the
loops do not contain, the k-pair and k-quad kernels' folding of their phases per output row
(FOLD_CYCLES_PER_ROW) and TILE_CALL_CYCLES per tile call (an assumed constant: the call, its
pointer setup and bias loads, ~20 instructions), over the clock. A max pool costs one cycle
per vector max (channels in vectors, the rest one at a time, as the kernels do). The FMAs executed count what the kernels really
compute: rows padded to the tile height, columns to the panel width, k to the packing's
k-step, depthwise channels to the chunk, stem channels to its block. Not modelled: call and
loop entry overheads other than those stores, the k remainder loops (costed at the main
loop's rate), cache misses inside a loop (the memory bound below covers streaming only).
The stem's padded copy of the image is a pass of its own before its FMAs: its bytes (read
and written) over the bandwidth of the level holding them, added to the step's time.

Memory time = the activation bytes a step moves (work.Step.bytes_in + bytes_out) / the
bandwidth of the smallest cache level that holds them (the step's working set), DRAM beyond
the last; a step takes max(compute, memory) for them. Its weights were last read one
inference ago, so they come from the level that holds all the net's weights, and are added:
each panel's first pass waits for them (on x86, AttoNet-A's last modules, 3.6 MB of weights
each from L3, ran 40% over a prediction that overlapped them with the FMAs). With T threads the compute splits over min(T, pixels / MR)
threads, the memory bandwidth of a shared level does not grow, a private one does, and each
step pays the board's barrier time.
"""
from __future__ import annotations

import dataclasses
import tempfile
import os

from . import asm_loops, kernels, mca, work

TILE_CALL_CYCLES = 20
# Cycles per output row that fold a k-pair or k-quad kernel's phases before its stores,
# counted in the epilogues: sum_pairs' 2 shuffles and permute, add and bias add (5
# instructions); store_quads8's 3 shuffles and permute, 2 adds and bias add (7). The zmm
# shuffles and permutes issue on one port on Intel cores: 3 and 4 cycles, more than the
# instructions' 2.5 and 3.5 at two per cycle.
FOLD_CYCLES_PER_ROW = {2: 3, 4: 4}
ASM_DIR = os.path.join(tempfile.gettempdir(), "attocore-perfmodel", "asm")


@dataclasses.dataclass
class LoopCost:
    kernel: str          # table name (and k for a row kernel)
    function: str        # demangled function holding the loop
    fmas: int
    lanes: int
    instructions: int
    cycles: dict         # estimator -> cycles per iteration
    osaca_unknown: int = 0

    def per_fma(self, estimator):
        return self.cycles[estimator] / self.fmas


@dataclasses.dataclass(frozen=True)
class Machine:
    """What a prediction needs of a core and its memory."""
    name: str
    target: str
    mcpu: str | None          # compiler -mcpu (None: the project's generic flags)
    llvm_mca: str | None
    osaca: str | None
    primary: str
    ghz: float
    fma_per_cycle: float      # vectors of the table's width
    levels: tuple             # ((bytes, bytes_per_second, shared), ...) smallest first; last: DRAM
    sync_us: float


# llvm-mca's triple for a target's assembly: the ARMv7 toolchain's GCC emits Thumb-2 by default
# (nothing in the build asks for -marm), which an ARM-mode triple would partly reject.
MCA_TRIPLES = {"aarch64": "aarch64", "armv7": "thumbv7-linux-gnueabihf", "x86_64": "x86_64"}


def _loop_cost(label, loop, m: Machine, target):
    triple = MCA_TRIPLES[target]
    cycles, unknown = {}, 0
    if m.llvm_mca:
        cycles["llvm-mca"] = mca.llvm_mca_cycles(loop.text, triple, m.llvm_mca)
    if m.osaca:
        cycles["osaca"], unknown = mca.osaca_cycles(loop.text, m.osaca)
    return LoopCost(label, asm_loops.demangle(loop.function), loop.fmas, loop.fma_lanes, loop.instructions, cycles,
                    unknown)


def loop_costs(table: kernels.Table, m: Machine, ks=(), stem_shapes=()) -> dict:
    """Hot-loop costs of every kernel of the table (row kernels for the fixed k in ks, stem
    blocks of the (channels, vectors) in stem_shapes)."""
    os.makedirs(ASM_DIR, exist_ok=True)
    out = {}

    def fns(source):
        return asm_loops.functions_for(source, table.target, m.mcpu, ASM_DIR)

    for g in table.gemm.values():
        f = fns(g.source)
        out[("tile", g.name)] = _loop_cost(g.name, asm_loops.hot_loop(f, g.entry, table.target), m, table.target)
        if g.single_row_entry:
            out[("single", g.name)] = _loop_cost(g.name + " single row",
                                                 asm_loops.hot_loop(f, g.single_row_entry, table.target), m,
                                                 table.target)
        for k in sorted(set(ks) & set(g.rows_fixed_k)):
            want = k * g.mr * (g.nr // g.lanes)
            out[("rows", g.name, k)] = _loop_cost(f"{g.name} rows k={k}",
                                                  asm_loops.hot_loop(f, g.rows_entry, table.target, want), m,
                                                  table.target)
    f = fns(table.dwconv_source)
    out[("dwconv",)] = _loop_cost(f"{table.dwconv_name} {table.dwconv_group_pixels}-pixel row",
                                  asm_loops.hot_loop(f, table.dwconv_entry, table.target, table.dwconv_group_fmas), m,
                                  table.target)
    f = fns(table.stem_source)
    out[("stem",)] = _loop_cost(table.stem_name, asm_loops.hot_loop(f, table.stem_entry, table.target), m, table.target)
    for ko, kp in stem_shapes:
        try:
            t = table.stem_taps_per_iteration  # NEON's loop takes two taps (stem_neon.cpp)
            loop = asm_loops.hot_loop(f, table.stem_entry, table.target, (t * ko * kp, ko * kp) if t > 1 else ko * kp)
        except asm_loops.AsmError:
            continue  # costed at the widest block's rate
        out[("stem", ko * kp)] = _loop_cost(f"{table.stem_name} {ko}ch x {kp}", loop, m, table.target)
    return out


def gemm_cycles(table, costs, est, p: work.GemmPart):
    plan = kernels.plan_gemm(table, p.m, p.k, p.n)
    g = plan.kernel
    nv = g.nr // g.lanes
    stores = 0
    if plan.path == "single_row":
        fmas = p.k * plan.wide_panels * nv
        cyc = fmas * costs[("single", g.name)].per_fma(est)
        stores = plan.wide_panels * nv
    elif plan.path == "rows":
        rows = kernels.padded_rows(p.m, g)
        fmas = rows * p.k * plan.wide_panels * nv
        key = ("rows", g.name, p.k) if plan.row_fixed_k else ("tile", g.name)
        cyc = fmas * costs[key].per_fma(est) + TILE_CALL_CYCLES * -(-rows // g.mr)
        if not plan.row_fixed_k:
            stores = rows * plan.wide_panels * nv * (2 if p.residual else 1)
    else:
        rows = kernels.padded_rows(p.m, g)
        ksteps = -(-p.k // g.kstep)
        fmas = rows * ksteps * g.fmas_per_row_k() * plan.wide_panels
        cyc = fmas * costs[("tile", g.name)].per_fma(est) + TILE_CALL_CYCLES * -(-rows // g.mr) * plan.wide_panels
        cyc += p.m * plan.wide_panels * FOLD_CYCLES_PER_ROW.get(g.kstep, 0)  # stored rows only
        stores = rows * plan.wide_panels * nv * (2 if p.residual else 1)
    if plan.tail is not None:
        t = plan.tail
        rows = kernels.padded_rows(p.m, t)
        tf = rows * -(-p.k // t.kstep) * t.fmas_per_row_k()
        cyc += tf * costs[("tile", t.name)].per_fma(est) + TILE_CALL_CYCLES * -(-rows // t.mr)
        cyc += p.m * FOLD_CYCLES_PER_ROW.get(t.kstep, 0)
        fmas += tf
        stores += rows * (2 if p.residual else 1)
    # The projection's strided input pixels copied beside the intermediate (pwpw.cpp): a
    # vector load and store per `lanes` floats.
    copy = p.m * -(-p.copied_k // table.lanes) if p.copied_k else 0
    return cyc + stores + copy, fmas, plan


def stem_shapes(table, steps):
    shapes = set()
    for s in steps:
        for p in s.parts:
            if isinstance(p, work.StemPart):
                shapes |= {(ko, kp) for ko, kp, _ in table.stem_blocks(p.channels, p.out_w)}
    return shapes


def part_cycles(table, costs, est, p):
    """(cycles, vector FMAs executed, kernel used) of one part on one core."""
    if isinstance(p, work.GemmPart):
        cyc, fmas, plan = gemm_cycles(table, costs, est, p)
        return cyc, fmas, plan.kernel.name + ("" if plan.path == "tile" else f"/{plan.path}")
    if isinstance(p, work.DwconvPart):
        chunks = -(-p.channels // table.dwconv_cw)
        fmas = p.pixels * chunks * p.taps
        return fmas * costs[("dwconv",)].per_fma(est) + p.pixels * chunks, fmas, table.dwconv_name
    if isinstance(p, work.StemPart):
        cyc = fmas = 0
        for ko, kp, count in table.stem_blocks(p.channels, p.out_w):
            f = p.taps * ko * kp * count * p.out_h
            cost = costs.get(("stem", ko * kp), costs[("stem",)])
            cyc += f * cost.per_fma(est) + (TILE_CALL_CYCLES + ko * kp) * count * p.out_h
            fmas += f
        return cyc, fmas, table.stem_name
    if isinstance(p, work.PoolPart):
        lanes = 4 if table.lanes == 4 else 8  # the x86 tables run AVX2's max pool
        ops = p.pixels * (p.channels // lanes + p.channels % lanes) * p.taps
        return float(ops), 0, table.maxpool_name
    return 0.0, 0, "memory"


def mr_of(table, step):
    for p in step.parts:
        if isinstance(p, work.GemmPart):
            return table.gemm_for(p.n).mr
    return 1


@dataclasses.dataclass
class StepEstimate:
    name: str
    kernels: str
    macs: int
    compute_s: float
    memory_s: float
    level: str
    seconds: float
    weights_s: float = 0.0    # the step's weights from the level holding the net's weights


def memory_seconds(m: Machine, nbytes: int, threads: int):
    names = ["L2", "L3", "DRAM"] if len(m.levels) == 3 else ["L2", "DRAM"]
    for (size, bw, shared), name in zip(m.levels, names):
        if size is None or nbytes <= size:
            return nbytes / (bw if shared else bw * threads), name
    size, bw, shared = m.levels[-1]
    return nbytes / bw, names[-1]


def estimate_steps(table, costs, m: Machine, steps, threads=1, est=None, compute_factor=1.0):
    """compute_factor scales compute time only (arm_model.py --x86-factor)."""
    est = est or m.primary
    out = []
    net_weights = sum(s.bytes_weights for s in steps)
    weight_s_per_byte = memory_seconds(m, net_weights, threads)[0] / net_weights if net_weights else 0.0
    for s in steps:
        cyc, names, copy = 0.0, [], 0.0
        for p in s.parts:
            if isinstance(p, work.StemPadPart):  # its own pass (threads share it), not overlapped
                copy += memory_seconds(m, p.bytes, threads)[0]
                continue
            c, _, kname = part_cycles(table, costs, est, p)
            cyc += c
            if kname != "memory" and kname not in names:
                names.append(kname)
        used = max(1, min(threads, s.pixels // max(1, mr_of(table, s))))
        compute = cyc / (m.ghz * 1e9) / used * compute_factor
        memory, level = memory_seconds(m, s.bytes_in + s.bytes_out, threads)
        weights = s.bytes_weights * weight_s_per_byte
        barriers = (2 if copy else 1) if threads > 1 else 0  # the copy is a parallel pass of its own
        t = max(compute, memory) + weights + copy + barriers * m.sync_us * 1e-6
        out.append(StepEstimate(s.name, "+".join(names) or "memory", s.macs, compute, memory, level, t, weights))
    return out


def board_machine(board, core):
    levels = [(board.l2_bytes, board.l2_bytes_per_cycle * board.ghz * 1e9, board.l2_shared)]
    if board.l3_bytes:
        levels.append((board.l3_bytes, board.l3_bytes_per_cycle * board.ghz * 1e9, True))
    levels.append((None, board.dram_sustained_gbs * 1e9, True))
    return Machine(board.name, core.target, core.mcpu, core.llvm_mca, core.osaca, core.primary, board.ghz,
                   core.fma_per_cycle, tuple(levels), board.sync_us)


def fixed_ks(table, steps):
    ks = set()
    for s in steps:
        for p in s.parts:
            if isinstance(p, work.GemmPart):
                ks.add(p.k)
    return ks
