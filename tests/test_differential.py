"""The two readers of the weight format accept and refuse exactly the same files, with the
same error class: attocore.format (the numba and TVM backends' reader) and the C++ loader
(the native backend, the C API and attocore-run; csrc/format/validate.cpp).

Thousands of valid random graphs (fuzz/graph_gen.py) are mutated semantically, one change
each with the checksum recomputed, and given to both readers in a subprocess (a crash would
show as a dead child)."""
import json
import os
import subprocess
import sys
import textwrap

from cmake_build import ROOT

CHILD = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import numpy as np
    from attocore import format as fmt
    from graph_gen import mutate, quantized_graph, random_graph
    from structured_fuzz import reader_verdicts, same_verdict
    first, count, per_graph = map(int, sys.argv[2:5])
    out = {"files": 0, "verdicts": {}, "disagreements": []}
    for seed in range(first, first + count):
        rng = np.random.default_rng(seed)
        graph = random_graph(rng)
        if seed % 3 == 0:  # every third graph int8: the quantization records' checks too
            graph = quantized_graph(rng, graph) or graph
        files = [("valid", fmt.encode(graph))] + [mutate(rng, graph) for _ in range(per_graph)]
        for i, (what, data) in enumerate(files):
            if data is None:
                continue
            py, native = reader_verdicts(data)
            out["files"] += 1
            key = py.split(":")[0]
            out["verdicts"][key] = out["verdicts"].get(key, 0) + 1
            if (i == 0 and py != "ok") or "UNTYPED" in py + native or not same_verdict(py, native):
                out["disagreements"].append({"seed": seed, "mutation": what, "python": py[:300],
                                             "native": native[:300]})
    print(json.dumps(out))
""")


def run_child(first, count, per_graph, tmp_path):
    proc = subprocess.run([sys.executable, "-c", CHILD, os.path.join(ROOT, "fuzz"), str(first), str(count),
                           str(per_graph)], capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, f"the child died (a reader crashed?): {proc.stderr[-3000:]}"
    return json.loads(proc.stdout)


def test_readers_agree_on_thousands_of_mutated_files(tmp_path):
    out = run_child(first=20_000, count=500, per_graph=8, tmp_path=tmp_path)
    print(f"{out['files']} files: {out['verdicts']}")
    assert out["files"] >= 4000
    assert not out["disagreements"], json.dumps(out["disagreements"][:10], indent=1)
    # The mutations reach every kind of verdict, acceptance included.
    for kind in ("ok", "FormatError", "GraphError", "ResourceLimitError", "UnsupportedOpError"):
        assert out["verdicts"].get(kind, 0) >= 20, (kind, out["verdicts"])
