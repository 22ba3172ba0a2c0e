"""Tuning records on another CPU: the instruction-set rule, the nearest compatible set, the
re-keyed copy a new session starts from, and the TVM backend saying which records it uses
(the one status line it prints when it compiles)."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from attocore import zoo

pytest.importorskip("tvm")
from attocore.backends.tvm import build, records as tvm_records  # noqa: E402
from attocore.backends.tvm.backend import TvmBackend  # noqa: E402
from attocore.backends.tvm.target import target, target_label, target_spec  # noqa: E402


def level(cpu):
    return tvm_records.isa_level({"kind": "llvm", "mcpu": cpu})


def test_levels_from_llvm_features():
    assert str(level("icelake-server")) == str(level("rocketlake")) == str(level("znver4")) == "x86-64-v4"
    assert str(level("znver3")) == str(level("haswell")) == "x86-64-v3"
    assert str(tvm_records.isa_level(target_spec("aarch64"))) == "aarch64"
    # Rocket Lake's instruction-set extensions are all Ice Lake server's (no AMX, no FP16).
    assert level("rocketlake").features <= level("icelake-server").features
    assert "amx-tile" in level("sapphirerapids").features and "amx-tile" not in level("rocketlake").features


def test_compatibility_rule():
    ok = tvm_records.compatibility
    assert ok(level("rocketlake"), level("icelake-server")) is None          # same level
    assert ok(level("znver3"), level("icelake-server")) is None              # lower level: fallback
    assert "not for this x86-64-v3" in ok(level("rocketlake"), level("znver3"))  # AVX-512 -> AVX2: never
    arm = tvm_records.isa_level(target_spec("aarch64"))
    assert "never apply" in ok(arm, level("icelake-server"))
    assert "never apply" in ok(level("znver3"), arm)


def test_nearest_candidate_prefers_same_level():
    roots = [tvm_records.shipped_root()]
    ice = tvm_records.candidates("attonet-d", {"kind": "llvm", "mcpu": "icelake-server"}, roots)
    assert [c.label for c in ice] == ["host-rocketlake", "host-znver3"]
    assert ice[0].same_level and not ice[1].same_level
    zen3 = tvm_records.candidates("attonet-d", {"kind": "llvm", "mcpu": "znver3"}, roots, exclude_label="host-znver3")
    assert zen3 == []  # the only other set is AVX-512's


@pytest.fixture
def borrowed_root(tmp_path):
    """The shipped AttoNet-D records of a CPU at this host's level, filed under a label that is
    not this host's: what a new CPU of the same instruction set finds."""
    here = tvm_records.isa_level(target_spec("host"))
    src = next((c.records_dir for c in tvm_records.candidates("attonet-d", target_spec("host"),
                                                               [tvm_records.shipped_root()]) if c.same_level), None)
    if src is None:
        pytest.skip(f"this CPU's instruction-set level ({here}) has no shipped AttoNet-D records to borrow")
    dst = tmp_path / "host-elsewhere" / "attonet-d"
    shutil.copytree(src, dst)
    return tmp_path


def test_backend_says_which_records_it_borrows(borrowed_root):
    graph = zoo.seeded_graph("attonet-d")
    lines = []
    ex = TvmBackend(graph, records_root=borrowed_root, status=lines.append)
    assert ex.records == borrowed_root / "host-elsewhere" / "attonet-d"
    level = tvm_records.isa_level(target_spec("host")).common_name
    assert ex.status_line() == (f"compiling for {target_label('host')} with records of host-elsewhere "
                                f"(nearest compatible: {level})")
    # They schedule every task when compiled for this CPU.
    tgt = target("host")
    _, scheduled = tvm_records.apply_records(build.fused(build.to_relax(graph)[0], tgt), tgt, ex.records)
    assert scheduled >= 36


def tiny_graph():
    from attocore.graph import Graph, Metadata, Op, Tensor
    rng = np.random.default_rng(2)
    t = {"input": Tensor("input", (1, 3, 8, 8)), "gap.out": Tensor("gap.out", (1, 3)),
         "logits": Tensor("logits", (1, 4)),
         "fc.weight": Tensor("fc.weight", (4, 3), rng.standard_normal((4, 3)).astype(np.float32))}
    ops = [Op("global_avgpool", "gap", ["input"], ["gap.out"]),
           Op("fully_connected", "fc", ["gap.out", "fc.weight"], ["logits"])]
    md = Metadata(name="tiny-status", input_shape=(3, 8, 8), labels=tuple("abcd"), resize=0)
    return Graph(md, t, ops, ["input"], ["logits"])


def test_backend_prints_one_status_line_when_it_compiles(tmp_path, capfd, monkeypatch):
    """backend="tvm" without records for this CPU or a compatible one says it runs untuned,
    in one line on stderr, once (at the compilation), through attocore.load and the CLI."""
    import attocore
    from attocore import format as fmt
    monkeypatch.setenv("ATTOCORE_CACHE_DIR", str(tmp_path / "cache"))
    model = attocore.load(fmt.encode(tiny_graph()), backend="tvm", records=tmp_path)
    assert model.executor.records is None
    x = np.ones((1, 3, 8, 8), np.float32)
    model.run(x)
    model.run(x)
    err = capfd.readouterr().err.splitlines()
    want = f"compiling for {target_label('host')} untuned: no records for tiny-status on this CPU or a compatible one"
    assert len(err) == 1 and err[0].startswith(want), err
    path = tmp_path / "tiny.atto"
    fmt.save(tiny_graph(), path)
    proc = subprocess.run([sys.executable, "-m", "attocore", "run", str(path), "--backend", "tvm"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env=dict(__import__("os").environ, ATTOCORE_CACHE_DIR=str(tmp_path / "cache")))
    assert proc.returncode == 0, proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.startswith("compiling for")] == [err[0]]
    # tuned=False: said so.
    lines = []
    TvmBackend(tiny_graph(), tuned=False, status=lines.append).run(x)
    assert lines == [f"compiling for {target_label('host')} untuned (tuned=False)"]


def test_rekeyed_copy(tmp_path):
    src = tvm_records.shipped_root() / "host-rocketlake" / "attonet-d"
    spec = {"kind": "llvm", "mcpu": "icelake-server", "num-cores": 2, "keys": ["cpu"], "tag": ""}
    n = tvm_records.rekey(src, tmp_path / "d", spec, "host-rocketlake")
    lines = (tmp_path / "d" / "database_tuning_record.json").read_text().splitlines()
    assert n == len(lines) == len((src / "database_tuning_record.json").read_text().splitlines())
    assert all(json.loads(line)[1][2] == spec for line in lines)
    assert (tmp_path / "d" / "database_workload.json").read_bytes() == (src / "database_workload.json").read_bytes()
    note = json.loads((tmp_path / "d" / "imported.json").read_text())
    assert note["from"] == "host-rocketlake" and note["source_target"]["mcpu"] == "rocketlake"
    assert tvm_records.recorded_target(tmp_path / "d") == spec


def test_tune_from_unknown_or_incompatible_records_is_refused(tmp_path):
    def tune(*flags):
        return subprocess.run([sys.executable, "-m", "attocore", "tune", "attonet-d", "--trials", "4",
                               "--work-dir", str(tmp_path), *flags], capture_output=True, text=True, timeout=300)
    proc = tune("--from", "host-nosuchcpu")
    assert proc.returncode == 1 and "no records for attonet-d under host-nosuchcpu" in proc.stderr
    # AArch64 records never seed an x86 session (filed under a label this root holds).
    arm = tmp_path / "aarch64" / "attonet-d"
    tvm_records.rekey(tvm_records.shipped_root() / "host-znver3" / "attonet-d", arm, target_spec("aarch64"),
                      "aarch64")
    proc = tune("--from", "aarch64")
    assert proc.returncode == 1 and "never apply" in proc.stderr
