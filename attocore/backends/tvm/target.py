"""The machines TVM compiles for: the host (its CPU as LLVM detects it) and named ARM boards
for cross-compilation."""
from __future__ import annotations

import json
import os

from .library import load_tvm

TARGETS = {
    "aarch64": {"kind": "llvm", "mtriple": "aarch64-linux-gnu", "mattr": ["+neon"]},
    "rpi4": {"kind": "llvm", "mtriple": "aarch64-linux-gnu", "mcpu": "cortex-a72", "mattr": ["+neon"]},
    "armv7": {"kind": "llvm", "mtriple": "armv7a-linux-gnueabihf", "mattr": ["+neon", "+vfp4"]},
}


def check_name(name: str) -> None:
    if name != "host" and name not in TARGETS:
        raise ValueError(f"unknown target '{name}': host, {', '.join(TARGETS)}")


def host_target(threads: int = 0) -> dict:
    tvm, _ = load_tvm()
    cpu = tvm.target.codegen.llvm_get_system_cpu() if hasattr(tvm.target, "codegen") else None
    t = {"kind": "llvm", "num-cores": threads or os.cpu_count() or 1}
    if cpu and cpu != "generic":
        t["mcpu"] = cpu
    return t


def target(name: str = "host", threads: int = 0):
    check_name(name)
    tvm, _ = load_tvm()
    spec = host_target(threads) if name == "host" else dict(TARGETS[name], **{"num-cores": threads or 4})
    return tvm.target.Target(spec)


def target_spec(name: str = "host") -> dict:
    """The target as the JSON dict MetaSchedule stores in its records."""
    return json.loads(str(target(name)))


def target_label(target_name: str) -> str:
    """Directory name of a target's records: the host is named by its CPU, since a schedule
    tuned on one CPU says little about another."""
    if target_name != "host":
        return target_name
    cpu = host_target().get("mcpu", "generic")
    return f"host-{cpu}"
