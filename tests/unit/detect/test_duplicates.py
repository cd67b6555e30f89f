"""Duplicate core: normalisation, exact and near matches, scopes, empty comments, the window, the
bounds, and the same verdict whether the index is one dict or split over partitions."""

from __future__ import annotations

from typing import Any

import pytest

from streamproc.detect.duplicates import (
    DuplicateConfig,
    Match,
    Probe,
    check_duplicate,
    is_expired,
    key_partition,
    keys_by_partition,
    match_and_index,
    probe,
    verdict,
)
from streamproc.detect.text import clean, normalise, normalise_duplicate

BASE = "The new tram line runs late every morning and the drivers blame the timetable again"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello   WORLD!!!", "helo world"),
        ("  spaced \t out \n text ", "spaced out text"),
        ("wait... what?!?!", "wait what"),
        ("<b>Buy</b> &amp; s&#97;ve", "buy save"),
        ("fr\u200bee mo\u2060ney", "fre money"),
        ("Нello wоrld", "helo world"),  # Cyrillic Н and о
        ("café naïve", "cafe naive"),
        ("Sooooo goooood", "so god"),
        ("fr33 m0ney", "fre money"),
        ("price 1000 in 2024", "price 1000 in 2024"),  # digits keep their runs outside words
        ("see https://www.Example.com/a/b?x=1 now", "se example com now"),
        ("see www.example.org/page now", "se example org now"),
        ("see shop.example.net/deal now", "se shop example net now"),
        ("ＦＵＬＬＷＩＤＴＨ", "fulwidth"),
        ("", ""),
        ("   \n\t ", ""),
        ("!!! ???", ""),
    ],
)
def test_normalise_duplicate(text: str, expected: str) -> None:
    assert normalise_duplicate(text) == expected


def test_shared_normalisation_keeps_its_behaviour() -> None:
    # links and spam import these: the duplicate stage must not change them
    assert normalise("Sooo  GOOD, see http://x.com!") == "sooo good see http x com"
    assert clean("a&amp;b<i>c</i>\u200b") == "a&b c "


def _run(
    index: dict[str, Any], cid: str, text: str, *, author: str = "a", thread: str = "t", at: float = 0.0
):
    return check_duplicate(DuplicateConfig(), index, cid, author, thread, at, text)


def test_exact_repeat_by_the_same_author() -> None:
    index: dict[str, Any] = {}
    assert _run(index, "1", BASE).label == "unique"
    r = _run(index, "2", BASE.upper() + "!!", at=60.0)
    assert r.label == "duplicate"
    assert r.data["kind"] == "exact"
    assert r.data["similarity"] == 1.0
    assert r.data["scopes"] == ["author"]
    assert r.data["original_id"] == "1"
    assert r.data["seconds_since"] == 60.0
    assert [x.code for x in r.reasons] == ["duplicate.author"]


def test_near_copy_across_threads_is_a_campaign() -> None:
    index: dict[str, Any] = {}
    _run(index, "1", BASE, author="a", thread="t1")
    edited = "the new tram line runs laaate every morning and drivers blame the timetable, see bit.ly/x1"
    r = _run(index, "2", edited, author="b", thread="t2", at=3600.0)
    assert r.label == "near_duplicate"
    assert r.data["kind"] == "near"
    assert 0.5 <= r.data["similarity"] < 1.0
    assert r.data["scopes"] == ["campaign"]
    assert r.data["original_id"] == "1"
    assert {x.code for x in r.reasons} == {"duplicate.campaign", "duplicate.near"}


def test_same_thread_other_author() -> None:
    index: dict[str, Any] = {}
    _run(index, "1", BASE, author="a", thread="t1")
    r = _run(index, "2", BASE, author="b", thread="t1")
    assert r.data["scopes"] == ["thread"]


def test_unrelated_comment_on_the_same_topic_is_unique() -> None:
    index: dict[str, Any] = {}
    _run(index, "1", BASE)
    r = _run(index, "2", "The bus timetable changed in March and nobody told the drivers about the new stops")
    assert r.label == "unique"


def test_empty_and_junk_are_flagged_not_clustered() -> None:
    index: dict[str, Any] = {}
    for i, text in enumerate(["", "   ", "!!!", "<br>", "\u200b"]):
        r = _run(index, str(i), text, author=f"u{i}", thread=f"t{i}")
        assert r.label == "empty"
        assert [x.code for x in r.reasons] == ["duplicate.empty"]
    assert index == {}


def test_window_expires_matches() -> None:
    config = DuplicateConfig(window=100.0)
    index: dict[str, Any] = {}
    check_duplicate(config, index, "1", "a", "t", 0.0, BASE)
    assert check_duplicate(config, index, "2", "a", "t", 101.0, BASE).label == "unique"
    assert check_duplicate(config, index, "3", "a", "t", 150.0, BASE).data["original_id"] == "2"


def test_redelivery_is_not_a_duplicate_of_itself() -> None:
    index: dict[str, Any] = {}
    assert _run(index, "1", BASE).label == "unique"
    assert _run(index, "1", BASE).label == "unique"


def test_keys_are_bounded() -> None:
    config = DuplicateConfig(max_per_key=4)
    index: dict[str, Any] = {}
    for i in range(10):
        check_duplicate(config, index, str(i), f"a{i}", f"t{i}", float(i), BASE)
    band_rows = [v for k, v in index.items() if not k.startswith("d")]
    assert max(len(v) for v in band_rows) == 4
    # the oldest in the window stays, so a campaign's original is still named
    r = check_duplicate(config, index, "x", "z", "tz", 20.0, BASE)
    assert r.data["original_id"] == "0"


def test_is_expired() -> None:
    assert is_expired("bkey", [["1", 10.0], ["2", 20.0]], now=200.0, window=100.0)
    assert not is_expired("bkey", [["1", 10.0], ["2", 150.0]], now=200.0, window=100.0)
    assert is_expired("d0:1", ["1", "a", "t", 50.0, "text"], now=200.0, window=100.0)


@pytest.mark.parametrize("partitions", [1, 2, 3, 8])
def test_sharded_index_gives_the_same_verdicts(partitions: int) -> None:
    """The stream splits keys over partitions, one index shard each; the verdict must not change."""
    config = DuplicateConfig()
    texts = [
        (BASE, "a", "t1"),
        ("Something else entirely about the bakery on the corner and its bread", "b", "t1"),
        (BASE.replace("late", "laaate") + " www.deals-now.shop/p1", "c", "t2"),
        (BASE + " Honestly.", "a", "t3"),
        ("Something else entirely about the bakery on the corner and its bread!!", "d", "t4"),
    ]
    whole: dict[str, Any] = {}
    shards: dict[int, dict[str, Any]] = {}
    for i, (text, author, thread) in enumerate(texts):
        p = probe(config, str(i), author, thread, float(i), text)
        assert isinstance(p, Probe)
        want = verdict(p, match_and_index(whole, p, p.keys, config))
        matches: list[Match] = []
        for part, keys in keys_by_partition(p.keys, partitions).items():
            assert all(key_partition(k, partitions) == part for k in keys)
            matches += match_and_index(shards.setdefault(part, {}), p, keys, config, shard=part)
        got = verdict(p, reversed(matches))
        assert got.to_dict() == want.to_dict()
    assert want.label == "duplicate"


def test_probe_round_trips_and_short_text_has_no_keys() -> None:
    config = DuplicateConfig()
    p = probe(config, "1", None, "t", 1.0, BASE)
    assert p is not None
    assert Probe.from_dict(p.to_dict()) == p
    assert len(p.keys) == 1 + config.params.bands
    assert probe(config, "2", None, "t", 1.0, "Nooooo") is None  # "no": too short to compare
    assert verdict(None, ()).label == "unique"
