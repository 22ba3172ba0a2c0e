"""The package version. Its one source is pyproject.toml: an installed package reads it from
its distribution's metadata; a source tree that was never installed reads the file. The C
library gets the same string from CMake (attocore_version())."""
from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

UNKNOWN = "0+unknown"


def from_pyproject(path: Path) -> str | None:
    """The [project] table's version in a pyproject.toml, or None if the file has none."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    # tomllib is Python 3.11+; the package supports 3.9, and the line has one fixed form.
    project = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    found = project and re.search(r'^version\s*=\s*"([^"]+)"', project.group(1), re.M)
    return found.group(1) if found else None


def package_version() -> str:
    try:
        return metadata.version("attocore")
    except metadata.PackageNotFoundError:
        return from_pyproject(Path(__file__).resolve().parent.parent / "pyproject.toml") or UNKNOWN
