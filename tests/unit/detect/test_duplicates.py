"""Duplicate core: normalisation, links and letter runs, exact and near matches, scopes, empty
comments, the window, and the same verdict whether the index is one shard or split over several.
The shard's state (records, derived index, rebuild, bounds) is in test_duplicates_state.py."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamproc.detect.duplicates import (
    DuplicateConfig,
    DuplicateShard,
    Match,
    Probe,
    check_duplicate,
    is_empty,
    key_partition,
    keys_by_partition,
    offline_shard,
    probe,
    verdict,
)
from streamproc.detect.minhash import shingle_set
from streamproc.detect.text import clean, normalise, normalise_duplicate
from streamproc.events import StageResult

BASE = "The new tram line runs late every morning and the drivers blame the timetable again"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello   WORLD!!!", "hello world"),
        ("  spaced \t out \n text ", "spaced out text"),
        ("wait... what?!?!", "wait what"),
        ("<b>Buy</b> &amp; s&#97;ve", "buy save"),
        ("fr\u200bee mo\u2060ney", "free money"),
        ("Нello wоrld", "hello world"),  # Cyrillic Н and о
        ("café naïve", "cafe naive"),
        ("Sooooo goooood", "soo good"),  # runs of three or more are emphasis: cut to two
        ("good food, too", "good food too"),  # double letters are spelling: kept
        ("fr33 m0ney", "free money"),
        ("price 1000 in 2024", "price 1000 in 2024"),  # digits keep their runs outside words
        ("see https://www.Example.com/a/b?x=1 now", "see example com a b x 1 now"),
        ("see www.example.org/page now", "see example org page now"),
        ("see shop.example.net/deal now", "see shop example net deal now"),
        ("https://example.com/p?utm_source=x&fbclid=y#top", "example com p"),
        ("http://example.com/p/?b=2&a=1&ref=mail", "example com p a 1 b 2"),  # order, ref dropped
        ("ＦＵＬＬＷＩＤＴＨ", "fullwidth"),
        ("Ünïcödé ß déjà vu!!", "unicode ss deja vu"),
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
    shard: DuplicateShard, cid: str, text: str, *, author: str = "a", thread: str = "t", at: float = 0.0
) -> StageResult:
    return check_duplicate(shard, cid, author, thread, at, text)


def test_exact_repeat_by_the_same_author() -> None:
    shard = offline_shard(DuplicateConfig())
    assert _run(shard, "1", BASE).label == "unique"
    r = _run(shard, "2", BASE.upper() + "!!", at=60.0)
    assert r.label == "duplicate"
    assert r.data["kind"] == "exact"
    assert r.data["similarity"] == 1.0
    assert r.data["scopes"] == ["author"]
    assert r.data["original_id"] == "1"
    assert r.data["seconds_since"] == 60.0
    assert [x.code for x in r.reasons] == ["duplicate.author"]


def test_near_copy_across_threads_is_a_campaign() -> None:
    shard = offline_shard(DuplicateConfig())
    _run(shard, "1", BASE, author="a", thread="t1")
    edited = "the new tram line runs laaaate every morning and drivers blame the timetable, see bit.ly/x1"
    r = _run(shard, "2", edited, author="b", thread="t2", at=3600.0)
    assert r.label == "near_duplicate"
    assert r.data["kind"] == "near"
    assert 0.5 <= r.data["similarity"] < 1.0
    assert r.data["scopes"] == ["campaign"]
    assert r.data["original_id"] == "1"
    assert {x.code for x in r.reasons} == {"duplicate.campaign", "duplicate.near"}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("cafe creme brulee tonight at nine", "cafe creme brulee tomorrow at nine"),  # packed shingles
        ("жёлтый журнал пишет о новом мосте", "жёлтый журнал пишет о старом мосте"),  # string sets
    ],
)
def test_near_copy_similarity_is_the_exact_jaccard(first: str, second: str) -> None:
    shard = offline_shard(DuplicateConfig())
    _run(shard, "1", first)
    a, b = (shingle_set(normalise_duplicate(t), 5) for t in (first, second))
    r = _run(shard, "2", second, at=1.0)
    assert r.label == "near_duplicate"
    assert r.data["similarity"] == round(len(a & b) / len(a | b), 4)


def test_same_thread_other_author() -> None:
    shard = offline_shard(DuplicateConfig())
    _run(shard, "1", BASE, author="a", thread="t1")
    assert _run(shard, "2", BASE, author="b", thread="t1").data["scopes"] == ["thread"]


def test_unrelated_comment_on_the_same_topic_is_unique() -> None:
    shard = offline_shard(DuplicateConfig())
    _run(shard, "1", BASE)
    r = _run(shard, "2", "The bus timetable changed in March and nobody told the drivers about the new stops")
    assert r.label == "unique"


@pytest.mark.parametrize(
    ("text", "empty"),
    [
        ("abc", False),
        ("a b", False),  # three characters once normalised, though two letters
        ("a!!b", False),
        ("ab", True),
        ("a . ", True),
        ("<b>x</b>", True),  # tags go: the fast path leaves texts with tags to normalise()
        ("&amp;&amp;", True),
        ("\uff21\uff22", True),  # fullwidth letters fold to two
        ("\u00df", True),  # ß folds to ss: two
        ("\u00dfx", False),
        ("___", False),
    ],
)
def test_is_empty_is_what_normalising_leaves(text: str, empty: bool) -> None:
    assert is_empty(text) is empty
    assert empty is (len(normalise(text)) < 3)


def test_empty_and_junk_are_flagged_not_clustered() -> None:
    shard = offline_shard(DuplicateConfig())
    for i, text in enumerate(["", "   ", "!!!", "<br>", "\u200b"]):
        r = _run(shard, str(i), text, author=f"u{i}", thread=f"t{i}")
        assert r.label == "empty"
        assert [x.code for x in r.reasons] == ["duplicate.empty"]
    assert shard.records == {}


def test_window_expires_matches() -> None:
    shard = offline_shard(DuplicateConfig(window=100.0))
    _run(shard, "1", BASE, at=0.0)
    assert _run(shard, "2", BASE, at=101.0).label == "unique"
    assert _run(shard, "3", BASE, at=150.0).data["original_id"] == "2"


@pytest.mark.parametrize(
    ("first", "second", "label"),
    [
        # two pages of one site, alone in a comment: not the same text (they were, by domain)
        ("https://tube.example/watch?v=Q1w2E3r4T5y", "https://tube.example/watch?v=Z9x8C7v6B5n", "unique"),
        ("social.example.net/mira_kovacs", "social.example.net/tom_jansen", "unique"),
        # the same page with tracking parameters, another scheme, www. or a trailing slash
        (
            "https://tube.example/watch?v=Q1w2E3r4T5y",
            "tube.example/watch?v=Q1w2E3r4T5y&utm_source=share",
            "duplicate",
        ),
        (
            "http://www.shop.example.com/item/42/",
            "https://shop.example.com/item/42?fbclid=IwAR0x&ref=feed",
            "duplicate",
        ),
        # the same words with another page: an edited copy, no longer "the same text"
        (
            "check out my channel for daily videos https://tube.example/@mirakovacs",
            "check out my channel for daily videos https://tube.example/@tomjansen",
            "near_duplicate",
        ),
        # emphasis is the same word, a doubled letter is another one: close, but not the same text
        ("this is sooooo good", "this is sooo good", "duplicate"),
        ("good night", "god night", "near_duplicate"),
    ],
)
def test_link_pages_tracking_parameters_and_letter_runs(first: str, second: str, label: str) -> None:
    shard = offline_shard(DuplicateConfig())
    _run(shard, "1", first, author="a")
    assert _run(shard, "2", second, author="b").label == label


def test_redelivery_is_not_a_duplicate_of_itself() -> None:
    shard = offline_shard(DuplicateConfig())
    assert _run(shard, "1", BASE).label == "unique"
    assert _run(shard, "1", BASE).label == "unique"


@pytest.mark.parametrize("partitions", [1, 2, 3, 8])
def test_sharded_index_gives_the_same_verdicts(partitions: int) -> None:
    """The stream splits keys over partitions, one shard each; the verdict must not change."""
    config = DuplicateConfig()
    texts = [
        (BASE, "a", "t1"),
        ("Something else entirely about the bakery on the corner and its bread", "b", "t1"),
        (BASE.replace("late", "laaaate") + " www.deals-now.shop/p1", "c", "t2"),
        (BASE + " Honestly.", "a", "t3"),
        ("Something else entirely about the bakery on the corner and its bread!!", "d", "t4"),
        ("lol sooo true", "e", "t5"),
        ("LOL soooooo true", "f", "t5"),
    ]
    whole = offline_shard(config)
    shards: dict[int, DuplicateShard] = {}
    labels = []
    for i, (text, author, thread) in enumerate(texts):
        p = probe(config, str(i), author, thread, float(i), text)
        assert isinstance(p, Probe)
        want = verdict(p, whole.match_and_index(p, p.keys))
        matches: list[Match] = []
        for part, keys in keys_by_partition(p.keys, partitions).items():
            assert all(key_partition(k, partitions) == part for k in keys)
            shard = shards.setdefault(part, DuplicateShard(config, part, {}, {}))
            matches += shard.match_and_index(Probe.from_bytes(p.to_bytes()), keys)
        got = verdict(p, reversed(matches))
        assert got.to_dict() == want.to_dict()
        labels.append(want.label)
    assert labels == [
        "unique",
        "unique",
        "near_duplicate",
        "near_duplicate",
        "duplicate",
        "unique",
        "duplicate",
    ]


def test_probe_round_trips_compactly_and_short_text_has_no_keys() -> None:
    config = DuplicateConfig()
    p = probe(config, "c-1042", "u-9", "article-77", 1.0, BASE)
    assert p is not None
    assert Probe.from_bytes(p.to_bytes()) == p
    assert Probe.from_dict(p.to_dict()) == p
    assert len(p.keys) == config.params.layout.bands  # a long text: the main layout only
    assert len(p.to_bytes()) < 60 + 48 + 4 * len(p.keys) + len(BASE)  # head, signature, keys, text
    short = probe(config, "2", None, "t", 1.0, "lol sooo true")
    assert short is not None
    assert len(short.keys) == config.params.layout.bands + config.params.short_layout.bands
    assert probe(config, "3", None, "t", 1.0, "No!") is None  # "no": too short to compare
    assert verdict(None, ()).label == "unique"


def test_short_layout_predicts_more_recall_at_low_similarity() -> None:
    params = DuplicateConfig().params
    assert params.collision_probability(0.5) == pytest.approx(params.layout.collision_probability(0.5))
    short = params.collision_probability(0.5, shingle_count=20)
    assert short > 0.99 > params.collision_probability(0.5)


@given(keys=st.lists(st.integers(0, 2**32 - 1), max_size=40), partitions=st.integers(1, 12))
def test_keys_go_to_the_partition_key_partition_names(keys: list[int], partitions: int) -> None:
    groups = keys_by_partition(keys, partitions)
    assert sorted(k for ks in groups.values() for k in ks) == sorted(keys)
    assert all(key_partition(k, partitions) == p for p, ks in groups.items() for k in ks)
    assert list(groups) == sorted(groups)
