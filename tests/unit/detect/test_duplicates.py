"""Duplicate core: normalisation, exact and near matches, scopes, empty comments, the window, the
bounds, and the same verdict whether the index is one dict or split over partitions."""

from __future__ import annotations

import random
from typing import Any

import pytest

from streamproc.detect.duplicates import (
    DuplicateConfig,
    Match,
    Probe,
    check_duplicate,
    key_partition,
    keys_by_partition,
    match_and_index,
    probe,
    remembered,
    verdict,
)
from streamproc.detect.text import clean, normalise, normalise_duplicate
from streamproc.gen.near_dups import TOPICS, comment_text

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
    band_rows = [v for k, v in index.items() if k[0] in "bx"]
    assert max(len(v) for v in band_rows) == 4
    # the oldest in the window stays, so a campaign's original is still named
    r = check_duplicate(config, index, "x", "z", "tz", 20.0, BASE)
    assert r.data["original_id"] == "0"


def _texts(n: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    return [comment_text(rng, rng.choice(list(TOPICS))) for _ in range(n)]


def _add(config: DuplicateConfig, index: dict[str, Any], cid: str, text: str, at: float, **kw: Any) -> Any:
    p = probe(config, cid, f"a{cid}", f"t{cid}", at, text)
    assert p is not None
    return verdict(p, match_and_index(index, p, p.keys, config, **kw))


def test_window_eviction_forgets_docs_keys_and_log() -> None:
    config = DuplicateConfig(window=100.0)
    index: dict[str, Any] = {}
    texts = _texts(30)
    for i, text in enumerate(texts[:20]):
        _add(config, index, str(i), text, float(i))
    assert remembered(index, 0) == 20
    first_keys = probe(config, "0", None, "t", 0.0, texts[0])
    assert first_keys is not None and all(k in index for k in first_keys.keys)
    for i, text in enumerate(texts[20:], start=20):  # 200 s later: all of the first 20 left the window
        _add(config, index, str(i), text, 200.0 + i)
    assert remembered(index, 0) == 10
    assert not any(k in index for k in first_keys.keys)
    assert not any(k.startswith(("d0:0", "l0:0")) for k in index)
    # what is left is exactly the 10 recent comments: their keys, doc rows, log rows and the head
    assert len(index) == len({k for t in texts[20:] for k in probe(config, "x", None, "t", 0, t).keys}) + 21  # type: ignore[union-attr]


def test_size_budget_bounds_the_index_and_forgets_the_oldest_first() -> None:
    config = DuplicateConfig(max_comments=50)
    index: dict[str, Any] = {}
    causes: list[str] = []
    texts = _texts(300)
    for i, text in enumerate(texts):
        _add(config, index, str(i), text, float(i), on_evict=causes.append)
    assert remembered(index, 0) == 50
    assert causes == ["budget"] * 250
    assert len([k for k in index if k.startswith("d0:")]) == 50
    assert len(index) <= 50 * (1 + config.params.bands + 2) + 1
    assert _add(config, index, "old", texts[0], 400.0).label == "unique"  # forgotten
    recent = _add(config, index, "new", texts[-1], 400.0)
    assert recent.label == "duplicate" and recent.data["original_id"] == str(len(texts) - 1)


def test_eviction_keeps_keys_that_remembered_comments_still_use() -> None:
    config = DuplicateConfig(max_comments=2)
    index: dict[str, Any] = {}
    a, other = _texts(2, seed=9)
    _add(config, index, "A", a, 0.0)
    assert _add(config, index, "B", a, 1.0).data["original_id"] == "A"
    _add(config, index, "C", other, 2.0)  # over budget: A is forgotten, B still uses its keys
    assert "d0:A" not in index and "d0:B" in index
    r = _add(config, index, "D", a, 3.0)
    assert r.label == "duplicate" and r.data["original_id"] == "B"


def test_a_far_future_timestamp_does_not_expire_the_shard() -> None:
    config = DuplicateConfig(window=3600.0)
    index: dict[str, Any] = {}
    a, b, c = _texts(3, seed=11)
    _add(config, index, "1", a, 1000.0, wall=1000.0)
    _add(config, index, "2", b, 1e10, wall=1000.0)  # a producer's clock far ahead
    _add(config, index, "3", c, 1010.0, wall=1010.0)
    assert _add(config, index, "4", a, 1020.0, wall=1020.0).data["original_id"] == "1"


def test_redelivery_keeps_one_log_entry() -> None:
    config = DuplicateConfig()
    index: dict[str, Any] = {}
    (a,) = _texts(1)
    _add(config, index, "1", a, 0.0)
    _add(config, index, "1", a, 0.0)
    assert remembered(index, 0) == 1


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
