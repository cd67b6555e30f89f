"""The demo's live summary: the verdict counts, and its figures on one line a newcomer can read."""

from __future__ import annotations

import re
import time
from collections import Counter

from rich.console import Console

from streamproc.demo import _summary


def test_the_figures_stay_on_one_line_under_the_table() -> None:
    counts = Counter({"approve": 1032, "hold": 120, "reject": 348})
    now = time.monotonic()
    console = Console(width=100, record=True, color_system=None)
    console.print(_summary(counts, 1500, now - 7.9, now - 3.4))
    lines = console.export_text().splitlines()
    assert any(re.fullmatch(r"1500/1500 verdicts in 7\.9 s, \d+ comments/s\s*", line) for line in lines), (
        lines
    )
    for action, n in counts.items():
        assert any(action in line and str(n) in line for line in lines), (action, lines)
