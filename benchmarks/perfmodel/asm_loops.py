"""Hot inner loops of attocore's kernels, found in the compiler's own assembly.

Nothing is marked in csrc/: a kernel source is compiled to assembly (-S) with the flags the
build gives it, split into functions, and for a kernel entry point (the symbol its kernel
table names) every function it reaches (calls, tail calls, address references: a factory
returning row kernels) is searched for loops. A loop is a backward branch to a local label
of the same function; an innermost loop contains no other. The kernel's hot loop is the
innermost loop with the most FMA instructions (fmla on aarch64, vfma.f32 on ARMv7, vfmadd*ps on
x86), or, when
the caller knows how many FMAs one iteration of the loop it wants holds (a row kernel
unrolled for k = 8 has 8 x 16 of them), the innermost loop with exactly that many.

The loop text (label to back branch, directives dropped) is what llvm-mca and OSACA analyse
(mca.py). Forward branches inside it (a loop's rare exits, an epilogue's partial-panel path)
are kept as straight-line code: llvm-mca and OSACA both analyse a block as if every
instruction ran, so a loop with a cold path inside is costed with it (an upper bound).
"""
from __future__ import annotations

import dataclasses
import functools
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CSRC = os.path.join(ROOT, "csrc")

# Per target: compiler, the flags the CMake build gives every kernel file (Release: -O3
# -DNDEBUG, C++17, PIC) and, per file suffix, the ISA flags CMakeLists.txt adds.
TARGETS = {
    "aarch64": {"cxx": "aarch64-linux-gnu-g++", "isa_flags": {"neon": []}},
    # The ARMv7 build (cmake/toolchains/armv7-linux-gnueabihf.cmake's flags): a 32-bit OS.
    "armv7": {"cxx": "arm-linux-gnueabihf-g++", "isa_flags": {"neon": []},
              "base": ["-march=armv7-a", "-mfpu=neon-vfpv4", "-mfloat-abi=hard"]},
    "x86_64": {"cxx": "g++", "isa_flags": {"avx2": ["-mavx2", "-mfma"],
                                            "avx512": ["-mavx512f", "-mavx2", "-mfma", "-Wno-maybe-uninitialized"]}},
}
BASE_FLAGS = ["-std=c++17", "-O3", "-DNDEBUG", "-fPIC", "-w"]

_BRANCH_AARCH64 = re.compile(r"^(b(\.?(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al))?|cbn?z|tbn?z)$")
_BRANCH_ARMV7 = re.compile(r"^(b(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)?|cbn?z)$")  # Thumb-2
_BRANCH_X86 = re.compile(r"^j[a-z]+$")
_FMA = {"aarch64": re.compile(r"^fmla$"), "armv7": re.compile(r"^vfma\.f32$"),
        "x86_64": re.compile(r"^vfn?m(add|sub)(132|213|231)ps$")}
_COMMENT = {"aarch64": "//", "armv7": "@", "x86_64": "#"}


class AsmError(RuntimeError):
    """A kernel's assembly could not be produced or did not hold what was expected."""


@dataclasses.dataclass
class Loop:
    function: str          # mangled name of the function holding it
    label: str
    lines: list            # instruction lines, label first, back branch last
    fmas: int              # FMA instructions per iteration
    fma_lanes: int         # float lanes per FMA (4: NEON q registers; 8: ymm; 16: zmm)
    instructions: int

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


@dataclasses.dataclass
class Function:
    name: str
    lines: list            # (kind, text): kind in {"label", "insn"}
    refs: set              # other function symbols it names


def compile_to_asm(source: str, target: str, mcpu: str | None, out_dir: str) -> str:
    """Assembly of one kernel source (path relative to csrc/) for `target` and `-mcpu`."""
    spec = TARGETS[target]
    suffix = re.search(r"_(neon|avx2|avx512)\.cpp$", source)
    flags = list(BASE_FLAGS) + spec.get("base", []) + (spec["isa_flags"].get(suffix.group(1), []) if suffix else [])
    if mcpu:  # the 32-bit build keeps its generic ARMv7 flags and is only tuned for the core
        flags.append({"aarch64": f"-mcpu={mcpu}", "armv7": f"-mtune={mcpu}"}.get(target, f"-march={mcpu}"))
    tag = (mcpu or "generic").replace("/", "_")
    out = os.path.join(out_dir, f"{target}-{tag}-{os.path.basename(source)[:-4]}.s")
    cmd = [spec["cxx"], *flags, f"-I{CSRC}", "-S", os.path.join(CSRC, source), "-o", out]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError as e:
        raise AsmError(f"{spec['cxx']} not found (install the cross compiler)") from e
    if proc.returncode != 0:
        raise AsmError(f"compiling {source} failed:\n{proc.stderr[-2000:]}")
    return out


def parse_functions(asm_path: str, target: str) -> dict:
    """Functions of a GCC assembly file by mangled name."""
    with open(asm_path, encoding="utf-8") as f:
        text = f.read()
    is_function = set(re.findall(r"\.type\s+([\w.$]+),\s*[%@]function", text))
    comment = _COMMENT[target]
    functions, current = {}, None
    for raw in text.splitlines():
        line = raw.split(comment)[0].rstrip()
        stripped = line.strip()
        if not stripped:
            continue
        m = re.match(r"^([\w.$]+):", line)  # GCC never indents labels
        if m:
            name = m.group(1)
            if name in is_function:
                current = Function(name, [], set())
                functions[name] = current
            elif current is not None:
                current.lines.append(("label", name))
            continue
        if current is None:
            continue
        if stripped.startswith(".size") and current.name in stripped:
            current = None
            continue
        if stripped.startswith("."):
            continue  # directives: alignment, CFI, sections
        current.lines.append(("insn", stripped))
        for sym in re.findall(r"[A-Za-z_$][\w.$]*", stripped):
            if sym in is_function and sym != current.name:
                current.refs.add(sym)
    return functions


def _mnemonic(insn: str) -> str:
    return insn.split(None, 1)[0].lower()


def _branch_target(insn: str, target: str):
    parts = insn.replace(",", " ").split()
    op = parts[0].lower()
    pattern = {"aarch64": _BRANCH_AARCH64, "armv7": _BRANCH_ARMV7}.get(target, _BRANCH_X86)
    if not pattern.match(op):
        return None
    return parts[-1] if parts[-1].startswith(".L") else None


def _lanes(insn: str, target: str) -> int:
    if target == "aarch64":
        return 4 if ".4s" in insn else 2 if ".2s" in insn else 1
    if target == "armv7":  # q registers hold 4 floats, d registers 2
        return 4 if re.search(r"\bq\d+", insn) else 2
    return 16 if "%zmm" in insn else 8 if "%ymm" in insn else 4


def _unconditional(insn: str, target: str) -> bool:
    op = _mnemonic(insn)
    if target == "armv7":
        return op in ("b", "bx") or (op == "pop" and "pc" in insn)
    return op in ("b", "br", "ret") if target == "aarch64" else op in ("jmp", "ret")


def _hot_path(fn: Function, a: int, b: int, target: str) -> list:
    """Indices of the instructions on the path from the loop head (line a) to its back
    branch (line b) that does the most FMAs, then the fewest instructions. Forward branches
    inside the loop are the choices; a branch out of the loop ends no path; a nested loop's
    back branch is not taken (its body counts once, as straight-line code)."""
    fma = _FMA[target]
    starts = [a] + [i for i in range(a + 1, b + 1) if fn.lines[i][0] == "label"
                    or (fn.lines[i - 1][0] == "insn" and _branch_target(fn.lines[i - 1][1], target) is not None)]
    starts = sorted(set(starts))
    block_of = {}
    blocks = []
    for n, s0 in enumerate(starts):
        s1 = starts[n + 1] - 1 if n + 1 < len(starts) else b
        blocks.append((s0, s1))
        for i in range(s0, s1 + 1):
            block_of[i] = n
    label_at = {t: i for i, (k, t) in enumerate(fn.lines) if k == "label" and a <= i <= b}
    best = [None] * len(blocks)  # (fmas, -instructions, previous block)

    def weight(n):
        s0, s1 = blocks[n]
        insns = [fn.lines[i][1] for i in range(s0, s1 + 1) if fn.lines[i][0] == "insn"]
        return sum(1 for t in insns if fma.match(_mnemonic(t))), len(insns)

    f0, i0 = weight(0)
    best[0] = (f0, -i0, None)
    for n, (s0, s1) in enumerate(blocks):
        if best[n] is None or s1 == b:
            continue
        last = fn.lines[s1][1] if fn.lines[s1][0] == "insn" else ""
        succ = []
        dest = _branch_target(last, target) if last else None
        if dest is not None and dest in label_at and label_at[dest] > s1:
            succ.append(block_of[label_at[dest]])
        if not (last and _unconditional(last, target)):
            succ.append(n + 1)
        for m in succ:
            fm, im = weight(m)
            cand = (best[n][0] + fm, best[n][1] - im, n)
            if best[m] is None or cand[:2] > best[m][:2]:
                best[m] = cand
    end = block_of[b]
    if best[end] is None:
        return []
    path, n = [], end
    while n is not None:
        path.append(n)
        n = best[n][2]
    return [i for n in reversed(path) for i in range(blocks[n][0], blocks[n][1] + 1)]


def loops_of(fn: Function, target: str) -> list:
    """The innermost FMA loops of a function: backward branches to its own labels whose hot
    path (see _hot_path) holds FMAs and that contain no other such loop."""
    label_at = {}
    for i, (kind, text) in enumerate(fn.lines):
        if kind == "label":
            label_at[text] = i
    spans = set()
    for j, (kind, text) in enumerate(fn.lines):
        if kind != "insn":
            continue
        dest = _branch_target(text, target)
        if dest is not None and dest in label_at and label_at[dest] < j:
            spans.add((label_at[dest], j))
    fma = _FMA[target]
    found = {}
    for a, b in sorted(spans):
        idx = _hot_path(fn, a, b, target)
        insns = [fn.lines[i][1] for i in idx if fn.lines[i][0] == "insn"]
        fmas = [t for t in insns if fma.match(_mnemonic(t))]
        if not fmas:
            continue
        lines = [f"{fn.lines[i][1]}:" if fn.lines[i][0] == "label" else f"\t{fn.lines[i][1]}" for i in idx]
        found[(a, b)] = Loop(fn.name, fn.lines[a][1], lines, len(fmas),
                             max(_lanes(t, target) for t in fmas), len(insns))
    return [lp for s, lp in found.items() if not any(o != s and s[0] <= o[0] and o[1] <= s[1] for o in found)]


def reachable(functions: dict, entry: str) -> list:
    seen, todo = [], [entry]
    while todo:
        name = todo.pop()
        if name in seen or name not in functions:
            continue
        seen.append(name)
        todo.extend(sorted(functions[name].refs))
    return seen


def find_entry(functions: dict, name: str) -> str:
    """The mangled symbol of attocore::NAME(...) (a kernel table's function name)."""
    want = f"N8attocore{len(name)}{name}E"
    hits = [f for f in functions if want in f and f.startswith("_ZN8attocore")]
    if not hits:
        raise AsmError(f"no function attocore::{name} in the assembly: has the kernel been renamed? "
                       f"(update benchmarks/perfmodel/kernels.py)")
    return sorted(hits, key=len)[0]


def hot_loop(functions: dict, entry: str, target: str, fmas=None) -> Loop:
    """The hot loop reached from `entry` (see the module docstring). fmas: the FMA count
    wanted, or a tuple of counts tried in order."""
    if isinstance(fmas, tuple):
        for n in fmas[:-1]:
            try:
                return hot_loop(functions, entry, target, n)
            except AsmError:
                pass
        fmas = fmas[-1]
    loops = [lp for f in reachable(functions, find_entry(functions, entry)) for lp in loops_of(functions[f], target)]
    with_fma = [lp for lp in loops if lp.fmas > 0]
    if fmas is not None:
        exact = [lp for lp in with_fma if lp.fmas == fmas]
        if not exact:
            have = sorted({lp.fmas for lp in with_fma})
            raise AsmError(f"{entry}: no loop with {fmas} FMAs (loops reached hold {have})")
        return min(exact, key=lambda lp: lp.instructions)
    if not with_fma:
        raise AsmError(f"{entry}: no loop with FMAs reached")
    return max(with_fma, key=lambda lp: (lp.fmas, -lp.instructions))


@functools.lru_cache(maxsize=None)
def functions_for(source: str, target: str, mcpu: str | None, out_dir: str) -> dict:
    return parse_functions(compile_to_asm(source, target, mcpu, out_dir), target)


def demangle(name: str) -> str:
    try:
        return subprocess.run(["c++filt", name], capture_output=True, text=True).stdout.strip() or name
    except FileNotFoundError:
        return name
