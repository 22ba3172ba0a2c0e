"""MetaSchedule tuning records: where they live and how a fused module takes its schedules
from them.

Records of one model for one target are a JSON database in `<root>/<target label>/<model>/`
(written by attocore.backends.tvm.tune). They are looked for in a root given, then
$ATTOCORE_TUNING_DIR, ./tuning, then the copy installed with the package.
"""
from __future__ import annotations

import os
from pathlib import Path

from .library import load_tvm
from .target import target_label

RECORD_FILES = ("database_workload.json", "database_tuning_record.json")


def model_slug(graph) -> str:
    """The name tuning records are filed under: the architecture's name ('attonet-d')."""
    return graph.metadata.name.strip().lower().replace(" ", "-").replace("/", "-") or "model"


def shipped_root() -> Path:
    """Records installed with the package (the repository's tuning/ folder, installed as
    attocore/tuning/ by CMakeLists.txt)."""
    return Path(__file__).resolve().parents[2] / "tuning"


def find_records(model_name: str, target_name: str = "host", root: str | os.PathLike | None = None):
    """The first directory holding records for (target, model): `root` if given, else
    $ATTOCORE_TUNING_DIR, ./tuning, then the copy shipped in the package. None if none."""
    label = target_label(target_name)
    roots = [Path(root)] if root else [
        Path(p) for p in (os.environ.get("ATTOCORE_TUNING_DIR"), "tuning") if p] + [shipped_root()]
    for r in roots:
        d = r / label / model_name
        if all((d / f).is_file() and (d / f).stat().st_size > 0 for f in RECORD_FILES):
            return d
    return None


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
