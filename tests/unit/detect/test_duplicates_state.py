"""A duplicate shard's state: one durable write per new comment, re-delivery that writes nothing and
answers the same, a derived index rebuilt from the records alone, entries left behind by a crash
between the two stores, and the bounds (window, size budget, rows per key, far-future clocks)."""

from __future__ import annotations

import random
from collections.abc import Iterator, MutableMapping

from streamproc.detect.duplicates import (
    MAX_CLOCK_SKEW,
    DuplicateConfig,
    DuplicateShard,
    Probe,
    StageResult,
    probe,
    verdict,
)
from streamproc.gen.near_dups import TOPICS, comment_text

BASE = "The new tram line runs late every morning and the drivers blame the timetable again"


class Counted(MutableMapping[bytes, bytes]):
    """A dict that counts writes and deletes: what would go to a changelog."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.writes = 0
        self.deletes = 0

    def __getitem__(self, key: bytes) -> bytes:
        return self.data[key]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes += 1
        self.data[key] = value

    def __delitem__(self, key: bytes) -> None:
        self.deletes += 1
        del self.data[key]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def _texts(n: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    return [comment_text(rng, rng.choice(list(TOPICS))) for _ in range(n)]


def _probe(config: DuplicateConfig, cid: str, text: str, at: float) -> Probe:
    p = probe(config, cid, f"a{cid}", f"t{cid}", at, text)
    assert p is not None
    return p


def _add(shard: DuplicateShard, cid: str, text: str, at: float, **kw: object) -> StageResult:
    p = _probe(shard.config, cid, text, at)
    return verdict(p, shard.match_and_index(p, p.keys, **kw))  # type: ignore[arg-type]


def _corpus() -> list[tuple[str, str, float]]:
    """Comments with copies among them, in arrival order."""
    texts = _texts(40, seed=5)
    out = [(str(i), t, float(i)) for i, t in enumerate(texts)]
    out += [(f"r{i}", texts[i] + " Really.", 100.0 + i) for i in range(0, 40, 3)]
    return out


def test_one_durable_write_per_new_comment_and_none_on_redelivery() -> None:
    records = Counted()
    shard = DuplicateShard(DuplicateConfig(), 0, records, {})
    corpus = _corpus()
    for cid, text, at in corpus:
        _add(shard, cid, text, at)
    assert records.writes == len(corpus) and records.deletes == 0
    cid, text, at = corpus[-1]
    first = shard.match_and_index(
        _probe(shard.config, cid, text, at), _probe(shard.config, cid, text, at).keys
    )
    _add(shard, "later", text, 500.0)  # other comments arrive in between
    writes = records.writes
    again = shard.match_and_index(
        _probe(shard.config, cid, text, at), _probe(shard.config, cid, text, at).keys
    )
    assert again == first and [m.sighting.comment_id for m in first] == ["39"]  # its original
    assert records.writes == writes


def test_rebuild_recreates_the_derived_index_from_records_alone() -> None:
    config = DuplicateConfig()
    live = DuplicateShard(config, 0, {}, {})
    corpus = _corpus()
    for cid, text, at in corpus[:45]:
        _add(live, cid, text, at)
    rebuilt = DuplicateShard(config, 0, dict(live.records), {})  # a new worker: the changelog only
    assert rebuilt.needs_rebuild()
    assert rebuilt.rebuild() == 45 == live.remembered() == rebuilt.remembered()
    assert rebuilt.derived == live.derived
    for cid, text, at in corpus[45:]:  # and it answers as the worker that never stopped
        assert _add(rebuilt, cid, text, at).to_dict() == _add(live, cid, text, at).to_dict()


def test_a_lost_derived_store_is_rebuilt_on_first_use() -> None:
    shard = DuplicateShard(DuplicateConfig(), 0, {}, {})
    _add(shard, "1", BASE, 0.0)
    shard.derived.clear()
    r = _add(shard, "2", BASE, 1.0)
    assert r.label == "duplicate" and r.data["original_id"] == "1"
    assert shard.remembered() == 2


def test_index_entries_without_a_record_are_skipped() -> None:
    """A crash after the derived update and before the record write (or an eviction's record
    delete before its derived update) leaves entries pointing at nothing."""
    shard = DuplicateShard(DuplicateConfig(), 0, {}, {})
    _add(shard, "1", BASE, 0.0)
    _add(shard, "2", _texts(1)[0], 1.0)
    (key,) = [k for k, v in shard.records.items() if b"1" in v[-1:]]
    del shard.records[key]
    r = _add(shard, "3", BASE, 2.0)
    assert r.label == "unique"  # its only match is gone; no error
    assert _add(shard, "4", BASE, 3.0).data["original_id"] == "3"


def test_an_index_behind_the_records_is_rebuilt_before_it_overwrites_one() -> None:
    """A derived store that survived a crash can miss records recovered from the changelog: the
    arrival number it would hand out is taken, so the shard rebuilds instead of overwriting."""
    config = DuplicateConfig()
    records = Counted()
    shard = DuplicateShard(config, 0, records, {})
    _add(shard, "1", BASE, 0.0)
    stale = dict(shard.derived)
    _add(shard, "2", _texts(1)[0], 1.0)
    shard.derived = stale  # the index from before comment 2
    r = _add(shard, "3", _texts(1)[0], 2.0)
    assert r.label == "duplicate" and r.data["match_ids"] == ["2"]
    assert len(records) == 3 and records.writes == 3
    assert shard.remembered() == 3


def test_keys_are_bounded_and_keep_the_oldest() -> None:
    shard = DuplicateShard(DuplicateConfig(max_per_key=4), 0, {}, {})
    for i in range(10):
        _add(shard, str(i), BASE, float(i))
    rows = [v for k, v in shard.derived.items() if len(k) == 4]
    assert max(len(v) // 4 for v in rows) == 4
    r = _add(shard, "x", BASE, 20.0)
    assert r.data["original_id"] == "0"  # a campaign's original is still named
    assert r.data["match_ids"] == ["0", "7", "8", "9"]


def test_window_eviction_forgets_records_and_index_entries() -> None:
    records = Counted()
    shard = DuplicateShard(DuplicateConfig(window=100.0), 0, records, {})
    texts = _texts(30)
    causes: list[str] = []
    for i, text in enumerate(texts[:20]):
        _add(shard, str(i), text, float(i))
    assert shard.remembered() == 20
    for i, text in enumerate(texts[20:], start=20):  # 200 s later: the first 20 left the window
        _add(shard, str(i), text, 200.0 + i, on_evict=causes.append)
    assert shard.remembered() == 10 and len(records) == 10
    assert records.deletes == 20 and causes == ["window"] * 20
    # what is left is exactly what a rebuild from the 10 records makes
    fresh = DuplicateShard(shard.config, 0, dict(records.data), {})
    fresh.rebuild()
    assert fresh.derived == shard.derived


def test_size_budget_bounds_the_shard_and_forgets_the_oldest_first() -> None:
    config = DuplicateConfig(max_comments=50)
    shard = DuplicateShard(config, 0, {}, {})
    causes: list[str] = []
    texts = _texts(300)
    for i, text in enumerate(texts):
        _add(shard, str(i), text, float(i), on_evict=causes.append)
    assert shard.remembered() == 50 == len(shard.records)
    assert causes == ["budget"] * 250
    assert len(shard.derived) <= 50 * (config.params.max_keys + 1) + 1
    assert _add(shard, "old", texts[0], 400.0).label == "unique"  # forgotten
    recent = _add(shard, "new", texts[-1], 400.0)
    assert recent.label == "duplicate" and recent.data["original_id"] == str(len(texts) - 1)


def test_eviction_keeps_keys_that_remembered_comments_still_use() -> None:
    shard = DuplicateShard(DuplicateConfig(max_comments=2), 0, {}, {})
    a, other = _texts(2, seed=9)
    _add(shard, "A", a, 0.0)
    assert _add(shard, "B", a, 1.0).data["original_id"] == "A"
    _add(shard, "C", other, 2.0)  # over budget: A is forgotten, B still uses its keys
    r = _add(shard, "D", a, 3.0)
    assert r.label == "duplicate" and r.data["match_ids"] == ["B"]


def test_a_far_future_timestamp_does_not_expire_the_shard() -> None:
    shard = DuplicateShard(DuplicateConfig(window=3600.0), 0, {}, {})
    a, b, c = _texts(3, seed=11)
    _add(shard, "1", a, 1000.0, wall=1000.0)
    _add(shard, "2", b, 1e10, wall=1000.0)  # a producer's clock far ahead
    _add(shard, "3", c, 1010.0, wall=1010.0)
    assert _add(shard, "4", a, 1020.0, wall=1020.0).data["original_id"] == "1"
    unguarded = DuplicateShard(DuplicateConfig(window=3600.0), 0, {}, {})
    _add(unguarded, "1", a, 1000.0)
    _add(unguarded, "2", b, 1000.0 + MAX_CLOCK_SKEW + 1e6)
    _add(unguarded, "3", c, 1010.0)
    assert _add(unguarded, "4", a, 1020.0).label == "unique"  # what the guard prevents
