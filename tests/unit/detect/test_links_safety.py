"""Extraction is linear-time on adversarial input: 1 MB pathological strings finish within a
stated bound per KB (no regex backtracking blow-up; a quadratic pattern takes minutes here)."""

from __future__ import annotations

import time

import pytest

from streamproc.detect.links import assess_links

MB = 1_000_000
# Stated bound: 8 ms of this process's CPU time per KB of input, i.e. 8 s for 1 MB. CPU time, not
# wall time, because the machine is shared: other jobs stretch the wall clock, not the work done.
# The worst case below is measured in docs/links.md (bench/bench_links.py prints it). A
# backtracking (quadratic) pattern needs minutes to hours on 1 MB, far beyond the bound.
BOUND_SECONDS_PER_KB = 0.008

PATHOLOGICAL = [
    ("run of dots", "." * MB),
    ("a.a.a.a", "a." * (MB // 2)),
    ("a. a. a.", "a. " * (MB // 3)),
    ("open brackets", "(" * MB),
    ("nested brackets", "[" * (MB // 2) + "]" * (MB // 2)),
    ("url then closing parens", "https://x.com/" + ")" * MB),
    ("100k http://", "http://" * 100_000),
    ("100k http:// spaced", "http:// " * 100_000),
    ("one long word", "a" * MB),
    ("spaced letters", "w " * (MB // 2)),
    ("spaced dots", " . " * (MB // 3)),
    ("written dots", "a dot " * (MB // 6)),
    ("bracketed dots", "example[.]" * (MB // 10)),
    ("unclosed tags", "<a " * (MB // 3)),
    ("entities", "&#46;" * (MB // 5)),
    ("e-mail-like", "a@a." * (MB // 4)),
    ("zero-width", "\u200b" * (MB // 3)),
    ("fullwidth", "ｅ" * (MB // 3)),
    ("userinfo", "http://" + "a@" * (MB // 2)),
    ("unclosed href", '<a href="' * (MB // 9)),
    # the patterns of the defanged, schemeless and symbol forms
    ("backslash dots", "a\\." * (MB // 3)),
    ("half brackets", "a[." * (MB // 3)),
    ("closing half brackets", "a.]" * (MB // 3)),
    ("bracketed slashes", "a[/]" * (MB // 4)),
    ("scheme__", "http__" * (MB // 6)),
    ("defanged separators", "hxxp[:]//" * (MB // 9)),
    ("defanged scheme names", "h00p://" * (MB // 7)),
    ("scheme backslashes", "http:\\\\" * (MB // 7)),
    ("slashes", "/" * MB),
    ("protocol-relative", "//a." * (MB // 4)),
    ("angle-bracket names", "<a." * (MB // 3)),
    ("unclosed angle brackets", "<a.b" * (MB // 4)),
    ("quoted e-mails", '"a"@' * (MB // 4)),
    ("long quoted parts", ('"' + "a" * 70) * (MB // 71) + '"@a.com'),
    ("symbols", "✪" * (MB // 3)),
    ("symbol labels", "✪." * (MB // 4)),
    ("dashes then dots", "-a." * (MB // 3)),
    ("underscores", "_" * MB),
    ("quoted urls", "'http://x.com/" * (MB // 14)),
    ("scheme characters", "a+" * (MB // 2) + "://"),
    ("sentence ends", ". " * (MB // 2)),
    ("one word then dots", "a" * (MB // 2) + "." * (MB // 2)),
]


@pytest.mark.parametrize(("name", "text"), PATHOLOGICAL, ids=[n for n, _ in PATHOLOGICAL])
def test_linear_time_on_pathological_input(name: str, text: str) -> None:
    kb = len(text.encode()) / 1024
    start = time.process_time()
    result = assess_links(text)
    elapsed = time.process_time() - start
    assert result.stage == "links"
    assert elapsed / kb <= BOUND_SECONDS_PER_KB, f"{name}: {elapsed:.2f} s for {kb:.0f} KB"


# Inputs where every token is a link (about 280 KB each): the cost is per link found, and stays
# within the same bound per KB.
MANY_LINKS = [
    ("bare in brackets", "(example.com) ", 20_000),
    ("angle-bracket hosts", "<a.com>", 40_000),
    ("defanged", "hxxp://x[.]com/ ", 17_500),
    ("after a dash", "-x.com ", 40_000),
]


@pytest.mark.parametrize(("name", "piece", "count"), MANY_LINKS, ids=[n for n, _, _ in MANY_LINKS])
def test_many_real_links_are_all_found_in_bounded_time(name: str, piece: str, count: int) -> None:
    text = piece * count
    start = time.process_time()
    result = assess_links(text)
    elapsed = time.process_time() - start
    assert len(result.data["links"]) == count
    assert elapsed / (len(text) / 1024) <= BOUND_SECONDS_PER_KB, f"{name}: {elapsed:.2f} s"
