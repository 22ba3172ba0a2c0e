"""The README's bring-your-own-model walkthrough, run exactly as written: its Python blocks
saved as the files their first lines name, its shell block run line by line in a fresh
directory holding only a photo, then its outputs checked."""
import os
import re
import shutil
import subprocess
import sys

import pytest

README = os.path.join(os.path.dirname(__file__), "..", "README.md")
DATA = os.path.join(os.path.dirname(__file__), "..", "attocore", "data")


def walkthrough_blocks():
    text = open(README, encoding="utf-8").read()
    found = re.search(r"<!-- walkthrough: begin -->(.*?)<!-- walkthrough: end -->", text, re.S)
    assert found, "README.md has no walkthrough markers"
    return re.findall(r"```(\w+)\n(.*?)```", found.group(1), re.S)


def test_walkthrough_runs_as_written(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    blocks = walkthrough_blocks()
    shell = [body for lang, body in blocks if lang == "sh"]
    assert len(shell) == 1
    for lang, body in blocks:
        if lang == "python":
            name = re.match(r"# (\S+\.py):", body).group(1)
            (tmp_path / name).write_text(body)
    shutil.copy(os.path.join(DATA, "sample.jpg"), tmp_path / "photo.jpg")
    # `python` and `attocore` of the interpreter running the tests, as a user's shell would have.
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    script = "set -e\n" + shell[0]
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    # attocore run: the user's labels, three of them, for the photo.
    assert "my_net.atto" in out and all(label in out for label in ("cat", "dog", "bird")), out
    # validate.py: both files agree with PyTorch on the photo to float rounding.
    errors = re.findall(r"(my_net\S*\.atto) Validation\(max_abs_error=([0-9.e+-]+), max_rel_error=([0-9.e+-]+)", out)
    assert [e[0] for e in errors] == ["my_net.atto", "my_net_from_onnx.atto"], out
    for path, abs_error, rel_error in errors:
        assert float(rel_error) < 1e-4, (path, abs_error, rel_error)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
