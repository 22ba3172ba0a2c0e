"""MetaSchedule tuning records: where they live, which may serve a target whose own are
missing, how they are carried over to it, and how a fused module takes its schedules from them.

Records of one model for one target are a JSON database in `<root>/<target label>/<model>/`
(written by attocore.backends.tvm.tune). They are looked for in a root given, then
$ATTOCORE_TUNING_DIR, ./tuning, then the copy installed with the package.

A record is a schedule (a trace of loop transformations) for one workload, found by its
structural hash; the target it was measured on is only a label. Compiled for the current
target, LLVM emits the current CPU's instructions whatever CPU the schedule was found on, so
records are *valid* anywhere; they are *good* where the vector width and the register file
match, and a schedule that uses a tensor intrinsic needs its instructions. The rule
(tuning/README.md):
- records apply within one architecture (x86-64, aarch64, ...), never across;
- on x86-64 the instruction-set level is the psABI level LLVM derives from the CPU name
  (x86-64-v4 = AVX-512 F/BW/CD/DQ/VL, v3 = AVX2+FMA, v2, v1): records of a CPU at the
  same level are used first; a lower level is a fallback (valid, tuned for narrower
  vectors); a higher level never (AVX-512 schedules are not for an AVX2 CPU);
- among candidates, the one whose CPU shares most of LLVM's feature list wins.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .library import load_tvm
from .target import target_label, target_spec

RECORD_FILES = ("database_workload.json", "database_tuning_record.json")
IMPORT_NOTE = "imported.json"  # in a session directory started from another CPU's records
X86_LEVELS = ("x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4")  # LLVM CPU names, lowest first
LEVEL_NAMES = {"x86-64": "SSE2", "x86-64-v2": "SSE4.2", "x86-64-v3": "AVX2", "x86-64-v4": "AVX-512"}


def model_slug(graph) -> str:
    """The name tuning records are filed under: the architecture's name ('attonet-d')."""
    return graph.metadata.name.strip().lower().replace(" ", "-").replace("/", "-") or "model"


def shipped_root() -> Path:
    """Records installed with the package (the repository's tuning/ folder, installed as
    attocore/tuning/ by CMakeLists.txt)."""
    return Path(__file__).resolve().parents[2] / "tuning"


def search_roots(root: str | os.PathLike | None = None) -> list:
    """Where records are looked for: `root` if given, else $ATTOCORE_TUNING_DIR, ./tuning,
    then the copy shipped in the package."""
    return [Path(root)] if root else [
        Path(p) for p in (os.environ.get("ATTOCORE_TUNING_DIR"), "tuning") if p] + [shipped_root()]


def has_records(d) -> bool:
    return all((Path(d) / f).is_file() and (Path(d) / f).stat().st_size > 0 for f in RECORD_FILES)


def find_records(model_name: str, target_name: str = "host", root: str | os.PathLike | None = None):
    """The first directory holding records for (target, model) in search_roots(root); None
    if none (see resolve_records for records of another, compatible CPU)."""
    label = target_label(target_name)
    for r in search_roots(root):
        if has_records(r / label / model_name):
            return r / label / model_name
    return None


# LLVM's per-CPU feature list mixes instruction-set extensions with scheduling hints
# ('slow-incdec', 'prefer-256-bit', ...), which say nothing about what code may run.
_TUNING_FLAGS = ("slow-", "fast-", "false-deps-", "tuning-", "prefer-", "no-bypass-delay", "allow-light-",
                 "idivq-to-", "idivl-to-", "macrofusion", "branchfusion", "sbb-dep-breaking", "vzeroupper",
                 "lea-", "pad-short-functions", "use-")


def _features(spec: dict) -> frozenset:
    """The instruction-set extensions LLVM enables for a target spec's CPU."""
    tvm, _ = load_tvm()
    from tvm.target import codegen
    return frozenset(f for f in (str(x) for x in codegen.llvm_get_cpu_features(tvm.target.Target(spec)))
                     if not f.startswith(_TUNING_FLAGS))


def _arch(spec: dict) -> str:
    triple = spec.get("mtriple")
    if not triple:
        tvm, _ = load_tvm()
        triple = str(tvm.target.codegen.llvm_get_system_triple())
    arch = triple.split("-")[0]
    return "x86-64" if arch in ("x86_64", "amd64") else arch


@dataclass(frozen=True)
class IsaLevel:
    arch: str       # 'x86-64', 'aarch64', 'armv7a', ...
    rank: int       # x86-64: psABI level 1..4; other architectures: 0
    name: str       # 'x86-64-v4', 'aarch64', ...
    features: frozenset

    def __str__(self):
        return self.name

    @property
    def common_name(self) -> str:
        """'AVX-512', 'AVX2', ... on x86-64; the architecture elsewhere."""
        return LEVEL_NAMES.get(self.name, self.name)


def isa_level(spec: dict) -> IsaLevel:
    """The instruction-set level of a target spec (a dict as in target.TARGETS)."""
    arch = _arch(spec)
    features = _features({k: v for k, v in spec.items() if k in ("kind", "mtriple", "mcpu", "mattr")})
    if arch != "x86-64":
        return IsaLevel(arch, 0, arch, features)
    rank = 1
    for i, level in enumerate(X86_LEVELS[1:], start=2):
        if _features({"kind": "llvm", "mcpu": level}) <= features:
            rank = i
    return IsaLevel(arch, rank, X86_LEVELS[rank - 1], features)


def recorded_target(records_dir) -> dict | None:
    """The target the records in a directory were measured on: the last session's, else the
    first record's."""
    d = Path(records_dir)
    sessions = d / "session.json"
    if sessions.is_file():
        try:
            return json.loads(json.loads(sessions.read_text())[-1]["target_spec"])
        except (ValueError, KeyError, IndexError, TypeError):
            pass
    try:
        with open(d / "database_tuning_record.json") as f:
            return json.loads(f.readline())[1][2]
    except (OSError, ValueError, IndexError):
        return None


def compatibility(recorded: IsaLevel, current: IsaLevel) -> str | None:
    """None when records of `recorded` may serve `current`, else why not."""
    if recorded.arch != current.arch:
        return f"records for {recorded.arch} never apply to {current.arch}"
    if recorded.rank > current.rank:
        return f"records tuned for {recorded} are not for this {current} CPU"
    if recorded.rank == 0 and not recorded.features <= current.features:
        return f"records use features this {current} target lacks: {sorted(recorded.features - current.features)}"
    return None


@dataclass
class Candidate:
    records_dir: Path
    label: str        # the directory's target label, e.g. 'host-rocketlake'
    level: IsaLevel
    same_level: bool
    shared_features: int

    def describe(self, current: IsaLevel) -> str:
        how = "" if self.same_level else f", a lower instruction set than this {current.common_name} CPU"
        return f"records of {self.label} (nearest compatible: {self.level.common_name}{how})"


def candidates(model: str, spec: dict, roots, exclude_label: str | None = None) -> list:
    """Compatible record sets for `model` under any other target label in `roots`, best first."""
    current = isa_level(spec)
    found, seen = [], set()
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for d in sorted(root.glob(f"*/{model}")):
            label = d.parent.name
            if label == exclude_label or label in seen or not has_records(d):
                continue
            recorded = recorded_target(d)
            if recorded is None:
                continue
            level = isa_level(recorded)
            if compatibility(level, current) is None:
                seen.add(label)
                found.append(Candidate(d, label, level, level.rank == current.rank,
                                       len(level.features & current.features)))
    found.sort(key=lambda c: (not c.same_level, -c.level.rank, -c.shared_features, c.label))
    return found


def rekey(src: Path, dst: Path, spec: dict, label: str) -> int:
    """Copy a record set into `dst` for another target: the workloads as they are, every
    record's target replaced by `spec` (MetaSchedule matches workloads by structural hash;
    the target is what later sessions and readers take as where a record belongs). Measured
    times are kept: they come from a CPU of the same (or a lower) level. Returns the number
    of records."""
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / "database_workload.json", dst / "database_workload.json")
    lines = []
    for line in (src / "database_tuning_record.json").read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            rec[1][2] = spec
            lines.append(json.dumps(rec))
    (dst / "database_tuning_record.json").write_text("\n".join(lines) + "\n")
    (dst / IMPORT_NOTE).write_text(json.dumps({
        "from": label, "source": str(src), "source_target": recorded_target(src),
        "records": len(lines)}, indent=1) + "\n")
    return len(lines)


@dataclass
class RecordChoice:
    records_dir: Path | None  # None: none apply, compile untuned
    label: str | None         # the target label the records were tuned for
    own: bool                 # tuned for this very target
    note: str                 # what was chosen, for the user: "with records of ..." / "untuned: ..."


def resolve_records(model_name: str, target_name: str = "host", root: str | os.PathLike | None = None) -> RecordChoice:
    """The target's own records if any, else the nearest compatible CPU's (same
    instruction-set level first, never a higher one), else none."""
    label = target_label(target_name)
    own = find_records(model_name, target_name, root)
    if own is not None:
        return RecordChoice(own, label, True, "with its own records")
    spec = target_spec(target_name)
    found = candidates(model_name, spec, search_roots(root), exclude_label=label)
    if found:
        return RecordChoice(found[0].records_dir, found[0].label, False, f"with {found[0].describe(isa_level(spec))}")
    return RecordChoice(None, None, False, f"untuned: no records for {model_name} on this CPU or a compatible one "
                                           f"({isa_level(spec).common_name})")


def apply_records(mod, tgt, records_dir):
    """Schedule the fused module's TIR functions from a tuning database; returns
    (module, number of functions scheduled)."""
    tvm, relax = load_tvm()
    from tvm.s_tir import meta_schedule as ms
    database = ms.database.JSONDatabase(work_dir=str(records_dir))
    with tgt, database:
        mod = relax.transform.MetaScheduleApplyDatabase()(mod)
    scheduled = sum(1 for f in mod.functions.values()
                    if getattr(f, "attrs", None) is not None and f.attrs.get("tirx.is_scheduled", False))
    return mod, scheduled
