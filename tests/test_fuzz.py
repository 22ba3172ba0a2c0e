"""A short smoke run of the fuzzers (fuzz/run.sh runs them longer): the structure-aware
campaign (valid random graphs against the reference path, semantic mutations through both
readers), the libFuzzer target over the C++ loader, executor and kernels under ASan + UBSan
(seeded with generated graphs too), and the atheris target over the Python reader/writer.
Any crash or finding fails the test. .ci/run installs clang-14 and atheris."""
import json
import os
import shutil
import subprocess
import sys

from cmake_build import ROOT

SECONDS = 20


def test_libfuzzer_loader_smoke(tmp_path):
    assert shutil.which("clang++-14"), "clang-14 not installed (apt-get install clang-14 libclang-rt-14-dev)"
    subprocess.run([sys.executable, os.path.join(ROOT, "fuzz", "make_corpus.py"), str(tmp_path / "seeds"),
                    "--generated", "40"], check=True, capture_output=True)
    build = tmp_path / "build"
    subprocess.run(["cmake", "-S", ROOT, "-B", str(build), "-G", "Ninja", "-DCMAKE_CXX_COMPILER=clang++-14",
                    "-DCMAKE_C_COMPILER=clang-14", "-DATTOCORE_BUILD_FUZZERS=ON", "-DATTOCORE_BUILD_TESTS=OFF",
                    "-DATTOCORE_BUILD_PYTHON=OFF", "-DCMAKE_BUILD_TYPE=RelWithDebInfo"], check=True, capture_output=True)
    proc = subprocess.run(["cmake", "--build", str(build), "--target", "loader_fuzzer", "-j", "2"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (tmp_path / "corpus").mkdir()
    proc = subprocess.run([str(build / "loader_fuzzer"), str(tmp_path / "corpus"), str(tmp_path / "seeds"),
                           f"-max_total_time={SECONDS}", "-max_len=65536", f"-artifact_prefix={tmp_path}/crash-"],
                          capture_output=True, text=True, timeout=SECONDS + 300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Done" in proc.stderr


def test_atheris_format_smoke(tmp_path):
    subprocess.run([sys.executable, os.path.join(ROOT, "fuzz", "make_corpus.py"), str(tmp_path / "seeds")], check=True,
                   capture_output=True)
    (tmp_path / "corpus").mkdir()
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "fuzz", "format_fuzzer.py"), str(tmp_path / "corpus"),
                           str(tmp_path / "seeds"), f"-max_total_time={SECONDS}", "-max_len=65536",
                           f"-artifact_prefix={tmp_path}/crash-"], capture_output=True, text=True,
                          timeout=SECONDS + 300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Done" in proc.stderr


def test_structured_campaign_smoke(tmp_path):
    out = tmp_path / "structured"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "fuzz", "structured_fuzz.py"), "--seconds", str(SECONDS),
                           "--out", str(out), "--seed", "7000000"], capture_output=True, text=True,
                          timeout=SECONDS + 300, cwd=tmp_path)
    findings = (out / "findings.txt").read_text() if (out / "findings.txt").exists() else ""
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:] + findings[-3000:]
    totals = json.loads(proc.stdout.strip().splitlines()[-1])
    assert totals["graphs"] >= 5 and totals["runs_checked"] >= 5 and totals["mutants"] >= 40, totals
