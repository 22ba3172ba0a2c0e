"""The ARM performance model (benchmarks/arm_model.py) runs and prints its tables, its loop
finder finds the kernels' FMA loops in compiled assembly, and the board kit
(scripts/board_kit.sh) runs attocore-run under qemu and prints the model's table format.
Small runs only: qemu timings mean nothing, the point is that the pieces work end to end."""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from cmake_build import ROOT, build

BENCH = os.path.join(ROOT, "benchmarks")
sys.path.insert(0, BENCH)

need_tools = pytest.mark.skipif(
    shutil.which("llvm-mca") is None or shutil.which("aarch64-linux-gnu-g++") is None,
    reason="needs llvm-mca (Debian: llvm) and aarch64-linux-gnu-g++")


def test_the_imported_nets_export_and_convert(tmp_path):
    """MobileNet-V2, which the model estimates beside the published Pi figures, comes from the
    package's own test nets (a path to a removed tests/models.py broke --validate once)."""
    pytest.importorskip("torch")
    import attocore
    from perfmodel import work
    atto = work.resolve_net("mobilenet-v2", cache_dir=str(tmp_path))
    assert atto.endswith(".atto") and os.path.exists(atto)
    logits = attocore.load(atto).run(np.zeros((1, 3, 224, 224), np.float32))
    assert logits.ndim == 2 and logits.shape[0] == 1 and np.isfinite(logits).all()


@need_tools
def test_hot_loops_are_the_kernels_fma_loops(tmp_path):
    from perfmodel import asm_loops
    fns = asm_loops.functions_for("kernels/gemm/gemm_neon.cpp", "aarch64", "cortex-a72", str(tmp_path))
    tile = asm_loops.hot_loop(fns, "gemm_4x16_neon", "aarch64")
    # Half the tile (4 rows x 2 vectors) x 4 k-steps per A load: 32 FMAs by lane, on 4-float
    # vectors, in the inline-assembly loop (its .L label and b.ne found like GCC's own).
    assert tile.fmas == 32 and tile.fma_lanes == 4
    assert tile.lines[-1].split()[0].startswith("b") and tile.lines[0].endswith(":")
    rows = asm_loops.hot_loop(fns, "gemm_rows_4x16_neon", "aarch64", fmas=8 * 16)
    assert rows.fmas == 128
    with pytest.raises(asm_loops.AsmError, match="renamed"):
        asm_loops.find_entry(fns, "no_such_kernel")


@need_tools
@pytest.mark.skipif(shutil.which("arm-linux-gnueabihf-g++") is None, reason="needs arm-linux-gnueabihf-g++")
def test_armv7_build_loops_are_found_and_costed(tmp_path):
    """The 32-bit build (the pi4-armv7 board, as XNNPACK's published Pi 4 figure ran): its one
    6x8 GEMM tile (12 q-register accumulators, 4 k-steps x 12 vfma.f32 per iteration) and the
    depthwise group of 4 pixels x 9 taps, found in arm-linux-gnueabihf-g++'s assembly (Thumb-2,
    the toolchain's default) and costed by llvm-mca's model of the A72, every instruction
    parsed (llvm-mca exits 0 on instructions it rejects: an ARM-mode triple dropped three)."""
    from perfmodel import asm_loops, kernels, mca, predict
    fns = asm_loops.functions_for("kernels/gemm/gemm_neon.cpp", "armv7", "cortex-a72", str(tmp_path))
    tile = asm_loops.hot_loop(fns, "gemm_6x8_neon", "armv7")
    assert tile.fmas == 48 and tile.fma_lanes == 4 and tile.lines[-1].split()[0] == "bne"
    tool = mca.llvm_mca_path()
    proc = subprocess.run([tool, f"-mtriple={predict.MCA_TRIPLES['armv7']}", "-mcpu=cortex-a72", "-"],
                          input=tile.text, capture_output=True, text=True)
    assert "error" not in proc.stderr, proc.stderr[:2000]
    assert f"Instructions:      {100 * tile.instructions}" in proc.stdout  # all parsed, 100 iterations
    cycles = mca.llvm_mca_cycles(tile.text, predict.MCA_TRIPLES["armv7"], "cortex-a72")
    assert tile.fmas / 2 <= cycles <= 4 * tile.fmas  # at least the dual FP pipes' bound, and finite
    m = predict.Machine("A72 ARMv7", "armv7", "cortex-a72", "cortex-a72", None, "llvm-mca", 1.5, 1.0,
                        ((None, 1.0, True),), 0.0)
    costs = predict.loop_costs(kernels.NEON_ARMV7, m)
    assert costs[("dwconv",)].fmas in kernels.NEON_ARMV7.dwconv_group_fmas
    assert costs[("tile", "gemm_6x8_neon")].fmas == 48


@need_tools
def test_llvm_mca_costs_a_loop():
    from perfmodel import mca
    loop = ".Lp:\n" + "".join(f"\tfmla\tv{i}.4s, v20.4s, v21.4s\n" for i in range(8)) + "\tsubs\tx0, x0, 1\n\tbne\t.Lp\n"
    a53 = mca.llvm_mca_cycles(loop, "aarch64", "cortex-a53")
    a72 = mca.llvm_mca_cycles(loop, "aarch64", "cortex-a72")
    assert 7 <= a72 <= 20 and a53 >= a72  # 8 independent FMAs: throughput-bound, the in-order core no faster


def test_osaca_report_parsing():
    from perfmodel import mca
    report = """
     |  0   |  1   |  2   ||  CP  | LCD  |
---------------------------------------
   1 |      |      |      ||      |      |   .L3:
   2 |      | 2.00 |      ||  6.0 |      |   ldp q1, q2, [x0]
   3 | 1.00 |      |      ||      |      | X mov v3.16b, v1.16b

       1.00   2.00                 6.0    4.0
"""
    tp, lcd, unknown = mca.parse_osaca(report)
    assert (tp, lcd, unknown) == (2.0, 4.0, 1)


@need_tools
@pytest.mark.skipif(shutil.which("osaca") is None and not os.path.exists(os.path.join(os.path.dirname(sys.executable),
                                                                                       "osaca")),
                    reason="needs osaca (pip install osaca: the test extra)")
def test_arm_model_prints_loop_and_net_tables():
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "arm_model.py"), "--nets", "attonet-d", "--boards",
                           "pi4", "--threads", "1", "4", "--cores", "cortex-a72", "--layers"],
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert re.search(r"\| gemm_4x16_neon \| gemm_4x16_neon \| 32 \| \d+ \| Cortex-A72 \| [\d.]+ \| [\d.]+\* \| \d+% \|",
                     out)
    assert "| m4.group..m4.add+m5.compress |" in out  # per-step rows
    rows = re.findall(r"^\| attonet-d \| pi4 \| (\d) \| ([\d.]+) \|$", out, re.M)
    ms = {int(t): float(v) for t, v in rows}
    assert set(ms) == {1, 4} and 1 < ms[1] < 200 and ms[4] < ms[1]


@pytest.mark.skipif(shutil.which("aarch64-linux-gnu-g++") is None or shutil.which("qemu-aarch64") is None,
                    reason="needs aarch64-linux-gnu-g++ and qemu-user")
def test_board_kit_runs_under_qemu(tmp_path):
    d = tmp_path / "build"
    build(d, f"-DCMAKE_TOOLCHAIN_FILE={os.path.join(ROOT, 'cmake', 'toolchains', 'aarch64-linux-gnu.cmake')}",
          "-DCMAKE_BUILD_TYPE=Release", targets=["attocore-run"])
    kit = tmp_path / "kit"
    kit.mkdir()
    subprocess.run([sys.executable, os.path.join(BENCH, "perfmodel", "make_nets.py"), str(kit), "attonet-d"],
                   check=True, capture_output=True)
    shutil.copy(d / "attocore-run", kit)
    shutil.copy(os.path.join(ROOT, "scripts", "board_kit.sh"), kit)
    env = dict(os.environ, EMULATOR="qemu-aarch64 -L /usr/aarch64-linux-gnu", TMPDIR=str(tmp_path))
    proc = subprocess.run(["sh", "board_kit.sh", "run", "--runs", "1", "--threads", "1 2", "--board", "qemu"],
                          cwd=kit, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert "| net | board | threads | ms |" in proc.stdout
    rows = re.findall(r"^\| attonet-d \| qemu \| (\d) \| ([\d.]+) \|$", proc.stdout, re.M)
    assert [t for t, _ in rows] == ["1", "2"] and all(float(v) > 0 for _, v in rows)
    # The model prints the same row format (perfmodel/report.py).
    from perfmodel.report import net_table_row
    assert re.match(r"^\| attonet-d \| qemu \| 1 \| [\d.]+ \|$", net_table_row("attonet-d", "qemu", 1, 1.5))
