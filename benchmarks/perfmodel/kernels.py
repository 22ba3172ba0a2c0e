"""What each kernel table holds, mirrored from csrc/kernels/dispatch/kernel_table.cpp, and
the choices the runtime makes among its kernels (kernel_table.h's gemm_for, gemm.h's
pack_gemm_b: tails, row kernels, the single-row kernel).

Each entry names the C++ function that the table points at (found in the compiled assembly
by asm_loops.find_entry: a renamed function fails loudly there) and the source it lives in.
When the tables change, change this file with them; the x86 validation (arm_model.py
--validate) checks the kernel names this mirror picks against those the runtime reports.
"""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Gemm:
    name: str          # as the runtime reports it (GemmKernel::name)
    entry: str         # C++ function of the table entry
    source: str
    mr: int
    nr: int
    lanes: int         # floats per vector register
    kstep: int = 1     # k-steps one FMA covers: 1 plain, 2 k-pairs, 4 k-quads
    rows_entry: str | None = None   # rows_for factory
    rows_k: tuple = ()              # k with a row kernel
    rows_fixed_k: tuple = ()        # k whose row kernel is unrolled at compile time (own loop)
    tail: str | None = None
    single_row_entry: str | None = None
    fewer_rows_mr: int = 0          # a fewer-rows kernel one row shorter: no padded tiles

    def fmas_per_row_k(self) -> int:
        """Vector FMAs per row per kstep of k on a full panel."""
        return self.nr * self.kstep // self.lanes


@dataclasses.dataclass(frozen=True)
class Table:
    isa: str
    target: str                   # asm_loops.TARGETS key
    lanes: int
    gemm: dict                    # name -> Gemm
    nr8: str
    wide: str
    dwconv_name: str
    dwconv_entry: str
    dwconv_source: str
    dwconv_cw: int                # output channels per depthwise chunk
    dwconv_group_fmas: tuple      # FMAs per iteration of a 7-pixel group's loop: a window row
                                  # (3 taps x 7) or, ky unrolled, the whole window (9 x 7)
    stem_name: str
    stem_entry: str
    stem_source: str
    stem_pixels: int              # output pixels per vector
    stem_block: int               # output channels a block pads to
    maxpool_name: str
    stem_wide_vectors: int = 4    # pixel vectors of a full stem block (NEON aarch64: 4)
    stem_taps_per_iteration: int = 1  # taps one iteration of the stem's loop takes (NEON: 2)
    dwconv_group_pixels: int = 7  # pixels of the depthwise group whose loop is costed

    def stem_blocks(self, out_c: int, out_w: int) -> list:
        """The stem kernel's blocks along one output row: (channels computed, pixel vectors,
        blocks per row), as stem_walk / stem_avx512 cut them."""
        out = []
        if self.isa == "neon":  # blocks of <= 4 channels; 4-vector blocks, then single vectors
            for oc0 in range(0, out_c, 4):
                ko = min(4, out_c - oc0)
                full = out_w // (4 * self.stem_wide_vectors)
                rest = -(-(out_w - full * 4 * self.stem_wide_vectors) // 4)
                out += [(ko, self.stem_wide_vectors, full)] + ([(ko, 1, rest)] if rest else [])
            return out
        for oc0 in range(0, out_c, 8):  # AVX-512: 8 channels x 3 vectors, or 4 x 6 for <= 4 left
            ko, kp = (8, 3) if out_c - oc0 > 4 else (4, 6)
            full = out_w // (16 * kp)
            rest = -(-(out_w - full * 16 * kp) // 16)
            out += [(ko, kp, full)] + ([(ko, min(rest, kp), 1)] if rest else [])
        return out

    def gemm_for(self, n: int) -> Gemm:
        return self.gemm[self.nr8] if n <= self.gemm[self.nr8].nr else self.gemm[self.wide]


NEON = Table(
    isa="neon", target="aarch64", lanes=4,
    gemm={
        "gemm_6x8_neon": Gemm("gemm_6x8_neon", "gemm_6x8_neon", "kernels/gemm/gemm_neon.cpp", 6, 8, 4),
        "gemm_4x16_neon": Gemm("gemm_4x16_neon", "gemm_4x16_neon", "kernels/gemm/gemm_neon.cpp", 4, 16, 4,
                               rows_entry="gemm_rows_4x16_neon", rows_k=(4, 5, 6, 7, 8), rows_fixed_k=(4, 5, 6, 7, 8),
                               tail="gemm_6x8_neon", single_row_entry="gemm_row_16_neon"),
    },
    nr8="gemm_6x8_neon", wide="gemm_4x16_neon",
    dwconv_name="dwconv_neon", dwconv_entry="dwconv_neon", dwconv_source="kernels/dwconv/dwconv_neon.cpp",
    dwconv_cw=4, dwconv_group_fmas=(21, 63),
    stem_name="stem_neon", stem_entry="stem_neon", stem_source="kernels/stem/stem_neon.cpp", stem_pixels=4,
    stem_block=1, maxpool_name="maxpool2d_neon", stem_taps_per_iteration=2,
)

# The same sources built for ARMv7 (a 32-bit OS): 16 q registers, so one 6 x 8 GEMM tile for
# every width (gemm_neon.inc), depthwise groups of 4 pixels (dwconv_neon.cpp's kWideGroup:
# a group's loop holds its 4 pixels x 9 taps, or one window row's 4 x 3), stem blocks of 2
# vectors (stem_neon.cpp's kWidePix), FMAs on a broadcast weight rather than by lane.
NEON_ARMV7 = Table(
    isa="neon", target="armv7", lanes=4,
    gemm={
        "gemm_6x8_neon": Gemm("gemm_6x8_neon", "gemm_6x8_neon", "kernels/gemm/gemm_neon.cpp", 6, 8, 4,
                              single_row_entry="gemm_row_8_neon"),
    },
    nr8="gemm_6x8_neon", wide="gemm_6x8_neon",
    dwconv_name="dwconv_neon", dwconv_entry="dwconv_neon", dwconv_source="kernels/dwconv/dwconv_neon.cpp",
    dwconv_cw=4, dwconv_group_fmas=(12, 36),
    stem_name="stem_neon", stem_entry="stem_neon", stem_source="kernels/stem/stem_neon.cpp", stem_pixels=4,
    stem_block=1, maxpool_name="maxpool2d_neon", stem_wide_vectors=2, stem_taps_per_iteration=2,
    dwconv_group_pixels=4,
)

_AVX512 = "kernels/gemm/gemm_avx512.cpp"
AVX512 = Table(
    isa="avx512", target="x86_64", lanes=16,
    gemm={
        "gemm_6x8_quads_avx512": Gemm("gemm_6x8_quads_avx512", "gemm_6x8_quads_avx512", _AVX512, 6, 8, 16, kstep=4),
        "gemm_6x16_pairs_avx512": Gemm("gemm_6x16_pairs_avx512", "gemm_6x16_pairs_avx512", _AVX512, 6, 16, 16, kstep=2,
                                  tail="gemm_6x8_quads_avx512"),
        "gemm_6x32_avx512": Gemm("gemm_6x32_avx512", "gemm_6x32_avx512", _AVX512, 6, 32, 16,
                                 rows_entry="gemm_rows_6x32_avx512", rows_k=tuple(range(1, 129)),
                                 rows_fixed_k=(5, 6, 7, 8), tail="gemm_6x16_pairs_avx512",
                                 single_row_entry="gemm_row_32_avx512", fewer_rows_mr=5),
    },
    nr8="gemm_6x8_quads_avx512", wide="gemm_6x32_avx512",
    dwconv_name="dwconv_avx512", dwconv_entry="dwconv_avx512", dwconv_source="kernels/dwconv/dwconv_avx512.cpp",
    dwconv_cw=16, dwconv_group_fmas=(21, 63),
    stem_name="stem_avx512", stem_entry="stem_avx512", stem_source="kernels/stem/stem_avx512.cpp", stem_pixels=16,
    stem_block=4, maxpool_name="maxpool2d_avx2",
)

ROW_KERNEL_MAX_B_BYTES = 256 * 1024   # gemm.h kRowKernelMaxBBytes
LARGE_B_BYTES = 160 * 1024            # gemm.h kLargeBBytes


@dataclasses.dataclass
class GemmPlan:
    """How the runtime runs one m x k x n product (pack_gemm_b and gemm_panels)."""
    kernel: Gemm
    path: str                      # "tile", "rows" or "single_row"
    wide_panels: int
    tail: Gemm | None
    b_bytes: int
    row_fixed_k: bool = False      # the row kernel is the one unrolled for this k


def panel_floats(k: int, g: Gemm) -> int:
    rows = (k + g.kstep - 1) // g.kstep * g.kstep
    bias = 16 if g.kstep == 4 else g.nr
    return bias + g.nr * rows


def plan_gemm(table: Table, m: int, k: int, n: int) -> GemmPlan:
    g = table.gemm_for(n)
    left = n % g.nr
    tail = None
    t = table.gemm.get(g.tail) if left else None
    while t is not None and left <= t.nr:
        tail = t
        t = table.gemm.get(t.tail)
    wide = n // g.nr if tail else -(-n // g.nr)
    b_bytes = 4 * (wide * panel_floats(k, g) + (panel_floats(k, tail) if tail else 0))
    if m == 1 and g.single_row_entry:
        return GemmPlan(g, "single_row", wide, tail, b_bytes)
    if g.rows_entry and k in g.rows_k and b_bytes <= ROW_KERNEL_MAX_B_BYTES:
        return GemmPlan(g, "rows", wide, tail, b_bytes, k in g.rows_fixed_k)
    return GemmPlan(g, "tile", wide, tail, b_bytes)


def padded_rows(m: int, g: Gemm) -> int:
    """Rows a kernel computes for m (tiles clamp their A pointers: padded rows cost full)."""
    if g.fewer_rows_mr == g.mr - 1 and m >= (g.mr - 1) * -(-m // g.mr):
        return m  # cut into tiles of MR and MR - 1 rows, none padded (gemm_driver.cpp)
    return -(-m // g.mr) * g.mr
