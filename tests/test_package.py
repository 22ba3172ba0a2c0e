"""The Python package as a whole: every module imports, the modules' own imports form no
cycle, no module reaches into another's private names, the names the README documents
exist, the wheel holds every module of the source tree, and the version and the status
codes each have one source that the other copies agree with."""
import ast
import importlib
import importlib.util
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import attocore
from attocore import errors, version
from cmake_build import ROOT

PACKAGE_DIR = Path(attocore.__file__).resolve().parent


def package_modules() -> dict:
    """{dotted name: source file} of every Python module of the installed package."""
    found = {"attocore": PACKAGE_DIR / "__init__.py"}
    for info in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="attocore."):
        spec = importlib.util.find_spec(info.name)
        if spec.origin and spec.origin.endswith(".py"):
            found[info.name] = Path(spec.origin)
    return found


MODULES = package_modules()
ALL_MODULE_NAMES = set(MODULES) | {"attocore._core"}


def is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module a `from ... import` statement in `module` names."""
    if node.level == 0:
        return node.module
    parts = module.split(".") if is_package(module) else module.split(".")[:-1]
    base = parts[:len(parts) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str):
    """(imported attocore module, bound name or None, names taken from it) for every import
    statement of `module`, wherever it is (lazy imports in functions count: a cycle through
    one is still a cycle in the design)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "attocore":
                    yield a.name, a.asname or None, []
        elif isinstance(node, ast.ImportFrom):
            source = resolve(module, node)
            if source.split(".")[0] != "attocore":
                continue
            names = []
            for a in node.names:
                sub = f"{source}.{a.name}"
                if sub in ALL_MODULE_NAMES:  # `from pkg import submodule`
                    yield sub, a.asname or a.name, []
                else:
                    names.append(a.name)
            if names:
                yield source, None, names


def import_graph() -> dict:
    graph = {m: set() for m in MODULES}
    for m in MODULES:
        for target, _, _ in imports_of(m):
            if target in MODULES and target != m:
                graph[m].add(target)
    return graph


def find_cycle(graph: dict):
    """One cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                return stack[stack.index(n):] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = "done"
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@pytest.mark.parametrize("name", sorted(m for m in MODULES if not m.endswith(".__main__")))  # that one runs the CLI
def test_every_module_imports(name):
    importlib.import_module(name)


def test_the_modules_imports_form_no_cycle():
    graph = import_graph()
    assert graph["attocore.backends.tvm.tune"], "the import graph is empty: the parser missed the imports"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_check_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_module_uses_another_modules_private_names():
    found = []
    for m in MODULES:
        module_aliases = set()
        for target, bound, names in imports_of(m):
            if bound:
                module_aliases.add(bound)
            found += [f"{m}: from {target} import {n}" for n in names if is_private(n)]
        tree = ast.parse(MODULES[m].read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in module_aliases and is_private(node.attr)):
                found.append(f"{m}: {node.value.id}.{node.attr}")
    assert not found, "private names used across modules:\n" + "\n".join(found)


def test_every_source_module_is_in_the_installed_package():
    """wheel.packages = ["attocore"] takes the subpackages too (a stale install fails here
    as well: reinstall)."""
    source = {p.relative_to(Path(ROOT) / "attocore") for p in (Path(ROOT) / "attocore").rglob("*.py")}
    installed = {p.relative_to(PACKAGE_DIR) for p in PACKAGE_DIR.rglob("*.py")}
    assert source - installed == set(), f"not installed: {sorted(map(str, source - installed))}"
    assert {Path("backends", "tvm", "tune.py"), Path("importers", "onnx.py")} <= installed


def readme_names() -> set:
    text = (Path(ROOT) / "README.md").read_text(encoding="utf-8")
    # File names (attocore.h, attocore.so) are not Python names.
    names = set(re.findall(r"(?<![\w/.-])(attocore(?:\.[A-Za-z_]\w*)+)(?![\w.])", text)) - {"attocore.h", "attocore.so"}
    for module, imported in re.findall(r"from (attocore[\w.]*) import ([\w, ]+)", text):
        names |= {f"{module}.{n.strip()}" for n in imported.split(",") if n.strip()}
    names |= set(re.findall(r"\bimport (attocore(?:\.\w+)*)", text))
    return names


def resolve_name(dotted: str):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_the_names_the_readme_documents_exist():
    names = readme_names()
    for expected in ("attocore.torch.attonet", "attocore.torch.validate", "attocore.onnx.convert", "attocore.capi",
                     "attocore.summary", "attocore.format", "attocore.zoo"):
        assert expected in names, f"{expected} is no longer read from the README: fix readme_names()"
    missing = []
    for name in sorted(names):
        try:
            resolve_name(name)
        except (ImportError, AttributeError) as e:
            missing.append(f"{name}: {e}")
    assert not missing, "\n".join(missing)


def test_public_names_keep_their_kind():
    assert inspect.isfunction(attocore.summary) and importlib.util.find_spec("attocore.summary") is None
    s = attocore.summary("attonet-d")
    assert s.params > 0 and s.macs > 0
    onnx = importlib.import_module("attocore.onnx")  # `import attocore.onnx` here would make attocore a local
    from attocore import capi
    from attocore.torch import attonet, export, validate
    assert onnx is attocore.onnx and callable(onnx.convert) and callable(capi.load)
    assert all(callable(f) for f in (attonet, export, validate))


def test_every_backend_implements_the_interface():
    from attocore.backends import Backend, capi, native, numba
    from attocore.backends.tvm.backend import TvmBackend
    classes = [native.NativeBackend, numba.NumbaBackend, TvmBackend, capi.CModel]
    assert [c.kind for c in classes] == ["native", "numba", "tvm", "capi"]
    assert all(issubclass(c, Backend) and not inspect.isabstract(c) for c in classes)
    m = attocore.load("attonet-d", backend="numba")
    assert m.backend == "numba" and m.threads == 1 and m.macs == attocore.summary("attonet-d").macs
    with pytest.raises(NotImplementedError, match="'numba' backend has no arena_bytes()"):
        m.arena_bytes()


def test_version_has_one_source():
    from attocore import capi
    declared = version.from_pyproject(Path(ROOT) / "pyproject.toml")
    assert re.fullmatch(r"\d+(\.\d+)*\S*", declared)
    assert attocore.__version__ == declared
    assert capi.version() == declared  # CMake defines attocore_version() from the same file


def test_pyproject_version_is_read_from_the_project_table(tmp_path):
    p = tmp_path / "pyproject.toml"
    p.write_text('[tool.other]\nversion = "9.9"\n\n[project]\nname = "attocore"\nversion = "1.2.3rc1"\n')
    assert version.from_pyproject(p) == "1.2.3rc1"
    p.write_text('[project]\nname = "attocore"\n')
    assert version.from_pyproject(p) is None
    assert version.from_pyproject(tmp_path / "missing.toml") is None


def enum_values(text: str) -> dict:
    body = re.search(r"typedef enum attocore_status \{(.*?)\} attocore_status;", text, re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    return {k: int(v) for k, v in re.findall(r"ATTOCORE_(\w+)\s*=\s*(\d+)", body)}


def declarations(text: str) -> set:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S).replace("ATTOCORE_API", "")
    return {" ".join(s.split()) for s in text.split(";") if "(" in s and "#" not in s and "typedef" not in s}


HEADER = Path(ROOT) / "csrc" / "include" / "attocore" / "attocore.h"


def test_status_codes_agree_with_the_c_header():
    """attocore.h is the source: errors.Status, and capi.CDEF's copy of the enum, match it
    (the C++ ErrorCode is tied to it by static_asserts in csrc/util/error.h)."""
    from attocore import capi
    header = enum_values(HEADER.read_text())
    assert header["OK"] == 0 and len(header) >= 10
    python = {("OK" if s is errors.Status.OK else f"ERROR_{s.name}"): int(s) for s in errors.Status}
    assert python == header
    assert enum_values(capi.CDEF) == header
    assert set(errors.ERROR_CLASSES) == set(errors.Status) - {errors.Status.OK}
    assert errors.error_class(errors.Status.FORMAT) is attocore.FormatError
    assert errors.error_class(12345) is attocore.AttocoreError


def test_capi_declarations_match_the_c_header():
    from attocore import capi
    missing = declarations(capi.CDEF) - declarations(HEADER.read_text())
    assert "const char* attocore_version(void)" in declarations(capi.CDEF)
    assert not missing, f"capi.CDEF declares what attocore.h does not (or differently): {sorted(missing)}"


def test_both_bindings_raise_through_the_one_table(tmp_path):
    from attocore import capi
    from attocore.backends import native
    for load in (capi.load, lambda data: native.NativeBackend(data)):
        with pytest.raises(errors.error_class(errors.Status.FORMAT), match="magic"):
            load(b"x" * 100)
        with pytest.raises(errors.error_class(errors.Status.IO)):
            load(str(tmp_path / "missing.atto"))
