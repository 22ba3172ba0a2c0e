"""What a tuning session shows: the bar with the time left, a line per finished task, the table
of tasks by time saved (attocore.backends.tvm.progress, fed as the measure callback feeds it)."""
import io
import re

import pytest

pytest.importorskip("tqdm")
from attocore.backends.tvm.progress import TuningProgress  # noqa: E402


def test_bar_lines_and_table():
    stream, lines = io.StringIO(), []
    p = TuningProgress({"a": 4, "b": 8}, {"a": 1, "b": 3}, log=lines.append, bar=True, stream=stream,
                       queue=lambda: "'k': 1 free / 1 busy, 0 waiting")
    p.batch("a", [2.0, 1.5, 1.0], 4)          # a is done: one line
    p.batch("b", [0.9, 0.8], 4)
    assert len(lines) == 1 and re.search(r"done 1/2 a: best 1\.0000 ms \(first 2\.0000\)", lines[0])
    assert "left ~" in lines[0] and "1 free / 1 busy" in lines[0] and "network estimate 1.00 ms" in lines[0]
    p.batch("b", [0.5], 4)
    assert len(lines) == 2 and "done 2/2 b" in lines[1]
    p.close()
    bar = stream.getvalue()
    assert "12/12" in bar and "trial" in bar and re.search(r"\d\d:\d\d<\d\d:\d\d", bar)  # elapsed<left
    # b saved 3 x (0.9 - 0.5) = 1.2 ms of network time, a 1 x (2.0 - 1.0) = 1.0: b first.
    assert [(r[0], round(r[5], 4)) for r in p.table()] == [("b", 1.2), ("a", 1.0)]
    p.print_table()
    assert "saved ms" in lines[2] and lines[3].startswith("b ") and lines[-1].startswith("network (weighted sum)")


def test_no_bar_off_a_terminal():
    lines = []
    p = TuningProgress({"a": 1}, {"a": 1}, log=lines.append, bar=None, stream=io.StringIO())
    assert p.bar is None  # tqdm's choice: not a terminal
    p.batch("a", [], 1)   # a batch whose candidates all failed still counts
    assert "done 1/1 a: best nan ms" in lines[0]
