"""Exact shingles: the packed integers that verify near-duplicate candidates count shared k-grams
exactly as the sets of strings do."""

from __future__ import annotations

import pytest

from streamproc.detect.minhash import exact_shingles, intersection_sizes, shingle_set

TEXTS = [
    "the new tram line runs late every morning",
    "the new tram line runs late every evening again",
    "tram tram tram tram",
    "abc",  # shorter than k: the text is its one shingle
    "abcd",
    "abcde",
    "abcdefgh",
    "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e",  # Latin-1 beyond ASCII
    "abc\u00ff\u00fe",
]


@pytest.mark.parametrize("k", [3, 5, 7])
def test_exact_shingles_count_what_string_sets_count(k: int) -> None:
    arrays = [exact_shingles(t, k) for t in TEXTS]
    sets = [shingle_set(t, k) for t in TEXTS]
    for mine, strings in zip(arrays, sets, strict=True):
        assert mine is not None
        assert len(mine) == len(strings)
        others = [a for a in arrays if a is not None]
        assert intersection_sizes(mine, others) == [len(strings & s) for s in sets]


@pytest.mark.parametrize(
    ("text", "k"), [("\u0436\u0443\u0440\u043d\u0430\u043b", 5), ("abcdefgh", 8), ("", 5)]
)
def test_no_exact_shingles_beyond_latin1_long_shingles_or_empty_text(text: str, k: int) -> None:
    assert exact_shingles(text, k) is None
