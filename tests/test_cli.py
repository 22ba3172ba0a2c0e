"""The README's main job and the CLI's error path."""
import subprocess
import sys


def test_run_default_sample_prints_top5(tmp_path):
    out = subprocess.run([sys.executable, "-m", "attocore", "run", "attonet-d"], capture_output=True, text=True,
                         check=True, cwd=tmp_path).stdout
    lines = [l for l in out.splitlines() if l.strip()[:2] in {f"{i}." for i in range(1, 6)}]
    assert len(lines) == 5 and "untrained" in out


def test_run_bad_model_is_a_clear_error(tmp_path):
    bad = tmp_path / "x.atto"
    bad.write_bytes(b"garbage" * 20)
    proc = subprocess.run([sys.executable, "-m", "attocore", "run", str(bad)], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 1 and "error:" in proc.stderr and "magic" in proc.stderr


def test_bench_profile_lists_layers(tmp_path):
    out = subprocess.run([sys.executable, "-m", "attocore", "bench", "attonet-d", "--runs", "3", "--warmup", "1",
                          "--profile"], capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert "median" in out and "m16.group" in out and "pwpw" in out and "GMAC/s" in out
