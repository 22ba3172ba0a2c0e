"""Cores and boards the estimate is for, every constant with where it comes from.

Cores: the llvm-mca scheduling model (LLVM 14) and OSACA model used, and the core's
architectural fp32 FMA throughput (128-bit vector FMAs per cycle) that "share of the FMA
bound" divides by. Which estimate a core's latency uses (`primary`) is chosen per core
and stated, never fitted: llvm-mca for the in-order A53 (OSACA has no A53 model, and an
in-order core is what llvm-mca's in-order pipeline simulates); OSACA's Cortex-A72 model
(measured on a Raspberry Pi 4) for the A72, since LLVM 14's cortex-a72 is its Cortex-A57
model; OSACA's Neoverse-N1 model for the A76 (LLVM 14's cortex-a76 and neoverse-n1 give
identical numbers here: both the A57 model, with one 128-bit FMA per cycle where the A76
has two pipes).

Board memory: DRAM bandwidth is the interface's theoretical peak (bus width x transfer
rate) times SUSTAINED, an assumed fraction a streaming copy reaches on such SoCs, not a
measured figure for these boards; cache bandwidths are bytes per cycle times the core's
clock, also assumed (stated per board). They only matter for steps whose bytes outrun
their FMAs.
"""
from __future__ import annotations

import dataclasses

SUSTAINED = 0.6  # assumed fraction of theoretical DRAM bandwidth a streaming kernel reaches


@dataclasses.dataclass(frozen=True)
class Core:
    name: str
    mcpu: str                 # -mcpu for the cross compiler and llvm-mca
    fma_per_cycle: float      # 128-bit (4 x fp32) FMAs per cycle, architectural
    fma_source: str
    llvm_mca: str | None      # llvm-mca -mcpu
    osaca: str | None         # OSACA --arch
    primary: str              # "llvm-mca" or "osaca"
    note: str = ""
    target: str = "aarch64"   # the build: "aarch64", or "armv7" (a 32-bit OS)


CORES = {
    "cortex-a53": Core("Cortex-A53", "cortex-a53", 1.0,
                       "one 128-bit FMLA issue per cycle (in-order, one FP/NEON pipe able to take it)",
                       "cortex-a53", None, "llvm-mca", "in-order; OSACA has no A53 model"),
    "cortex-a55": Core("Cortex-A55", "cortex-a55", 1.0, "one 128-bit FMLA per cycle",
                       "cortex-a55", None, "llvm-mca", "no Raspberry Pi uses it; shown because llvm-mca models it"),
    "cortex-a72": Core("Cortex-A72", "cortex-a72", 1.0,
                       "two FP pipes, one 128-bit FMLA per cycle together (A72 optimisation guide; "
                       "Pi 4 peak fp32 = 4 cores x 1.5 GHz x 8 flop)",
                       "cortex-a72", "A72", "osaca", "llvm-mca's cortex-a72 is the Cortex-A57 model"),
    # The A72 running attocore's ARMv7 build (a 32-bit OS such as Raspbian Buster, where the
    # published XNNPACK Pi 4 figure was measured): llvm-mca's 32-bit ARM model of the core (the
    # Cortex-A57 one); OSACA models AArch64 only.
    "cortex-a72-armv7": Core("Cortex-A72 (ARMv7 build)", "cortex-a72", 1.0,
                             "as the A72 above: one 128-bit VFMA per cycle", "cortex-a72", None, "llvm-mca",
                             "32-bit build: 16 q registers, one 6x8 GEMM tile, depthwise groups of 4", "armv7"),
    "cortex-a76": Core("Cortex-A76", "cortex-a76", 2.0, "two 128-bit FMA pipes (Arm's A76 description)",
                       "cortex-a76", "N1", "osaca",
                       "llvm-mca's cortex-a76 is the A57 model (1 FMA/cycle); OSACA's Neoverse-N1 model used"),
}


@dataclasses.dataclass(frozen=True)
class Board:
    name: str
    core: str                 # CORES key
    ghz: float
    cores: int
    l2_bytes: int             # per core where private, else the cluster's
    l2_shared: bool
    l2_bytes_per_cycle: float
    l3_bytes: int
    l3_bytes_per_cycle: float
    dram_gbs: float           # theoretical
    sources: str
    sync_us: float = 0.0      # per step and thread barrier, multi-threaded only (assumed)
    dram_measured_gbs: float | None = None  # a published streaming measurement, used over SUSTAINED
    dram_measured_source: str = ""

    @property
    def dram_sustained_gbs(self):
        return self.dram_measured_gbs or self.dram_gbs * SUSTAINED


# Cache bandwidths assumed: half of the L1-L2 interface's bytes per cycle (A53 128-bit,
# A72 128-bit read, A76 256-bit); the Pi 5's L3 at 16 B/cycle. The thread barrier: the pool's
# spinning workers see a step's start within ~1 us on these cores (assumed, not measured).
# STREAM on a Raspberry Pi 4 (https://www.sci-pi.org.uk/bench/stream.html, gcc -O3, no display
# attached): copy 5527 MB/s, scale 5562, add 4855, triad 4844. The copy rate stands in for the
# assumed fraction: it is 43% of the interface's 12.8 GB/s, not SUSTAINED's 60%.
PI4_STREAM = {"dram_measured_gbs": 5.5, "dram_measured_source": "STREAM copy, sci-pi.org.uk"}

BOARDS = {
    "pi3b+": Board("Raspberry Pi 3B+", "cortex-a53", 1.4, 4, 512 << 10, True, 8.0, 0, 0.0,
                   3.6, "BCM2837B0: 4x A53 at 1.4 GHz, 512 KiB shared L2, 1 GB LPDDR2-900 x32 (3.6 GB/s)",
                   sync_us=2.0),
    "pi4": Board("Raspberry Pi 4", "cortex-a72", 1.8, 4, 1 << 20, True, 16.0, 0, 0.0,
                 12.8, "BCM2711: 4x A72 at 1.8 GHz (1.5 GHz on boards before 2020), 1 MiB shared L2, "
                       "LPDDR4-3200 x32 (12.8 GB/s)", sync_us=1.5, **PI4_STREAM),
    # The Pi 4 as the published XNNPACK figure ran it (February 2020: 1.5 GHz boards, Raspbian
    # Buster, a 32-bit OS): attocore's ARMv7 build.
    "pi4-armv7": Board("Raspberry Pi 4 (1.5 GHz, 32-bit OS)", "cortex-a72-armv7", 1.5, 4, 1 << 20, True, 16.0, 0,
                       0.0, 12.8, "BCM2711 at the 1.5 GHz of boards before 2020, 1 MiB shared L2, LPDDR4-3200 x32 "
                       "(12.8 GB/s), running the ARMv7 build", sync_us=1.5,
                       **PI4_STREAM),
    "pi5": Board("Raspberry Pi 5", "cortex-a76", 2.4, 4, 512 << 10, False, 32.0, 2 << 20, 16.0,
                 17.1, "BCM2712: 4x A76 at 2.4 GHz, 512 KiB L2 per core, 2 MiB shared L3, "
                       "LPDDR4X-4267 x32 (17.1 GB/s)", sync_us=1.0),
}
