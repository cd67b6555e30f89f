"""Duplicate detection: exact and near repeats of earlier comments by the same author, in the same
thread, or across threads (a campaign), over a bounded time window.

How: the text is normalised (`text.normalise_duplicate`), cut into character 5-grams, and
MinHash-ed into LSH band keys (`minhash.py`); with the exact fingerprint these are the comment's
index keys. An index (any MutableMapping: a Faust table per partition in the stream, a dict
offline) maps each key to the recent comments that had it, and holds one row per comment (`doc`)
with its normalised text, so candidates are verified with the exact Jaccard similarity of their
shingles: precision does not depend on the MinHash estimate.

Bounds: each shard also keeps a log of its comments in arrival order (`l<shard>:<seq>` rows and a
head row `q<shard>` = [oldest seq, next seq, stream time]). Every new comment appends to it and
evicts from the old end what has left the window or exceeds the size budget (MAX_COMMENTS per
shard), a few at a time: eviction deletes the comment's doc row and every index key that refers
only to forgotten comments. State is bounded without ever scanning the index, and the head row
counts what a shard holds.

The core is split so that the stream can spread it over partitions: `probe()` computes the keys
(no state), `match_and_index()` checks and updates one shard of the index for the keys that live
there, and `verdict()` combines the matches from every shard into the stage result. Offline, one
dict is the only shard, and the result is the same as the stream's on a single partition.

Parameters were measured on `streamproc.gen.near_dups` (20,000 comments, see
tests/quality/test_duplicates_quality.py): 5-grams separate edited copies from unrelated comments
on the same topic better than 3- or 4-grams; at Jaccard 0.5 the near copies are in and almost no
unrelated comments are; 16 bands of 3 rows find >99% of the pairs above 0.5 while keeping each
comment at 17 index keys (each key is a changelog write in the stream).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from streamproc.detect.minhash import LshParams, MinHasher, jaccard_sets, shingle_hashes, shingle_set
from streamproc.detect.text import normalise, normalise_duplicate
from streamproc.events import Reason, StageResult

VERSION = "duplicates-2"
WINDOW_SECONDS = 7 * 24 * 3600.0  # a week: spam campaigns and double posts recur within days
THRESHOLD = 0.5  # Jaccard of 5-gram sets at or above which two comments are near-duplicates
PARAMS = LshParams(k=5, bands=16, rows=3)
MAX_PER_KEY = 24  # comments remembered per index key: the oldest in the window and the newest
MAX_DOC_CHARS = 2000  # normalised text kept per comment for verification; longer is cut
MIN_CHARS = 3  # shorter texts ("ok", "+1", "!!!") are empty or junk, not compared
MAX_MATCH_IDS = 5  # earlier comments listed in the verdict
# Size budget: comments remembered per shard (index partition). The bench measured 890-950 bytes
# of keys and values per comment, so the default caps a partition's index near 1 GB; the window
# (a week) is what normally bounds it.
MAX_COMMENTS = 1_000_000
EVICT_BATCH = 8  # evictions per new comment at most: a backlog after a pause is spread out
MAX_CLOCK_SKEW = 3600.0  # a posted_at further ahead of the wall clock does not move stream time

Index = MutableMapping[str, Any]


@dataclass(slots=True, frozen=True)
class Sighting:
    """A comment as the index remembers it."""

    comment_id: str
    author: str | None
    thread_id: str
    at: float

    def to_list(self) -> list[Any]:
        return [self.comment_id, self.author, self.thread_id, self.at]

    @classmethod
    def from_list(cls, row: Sequence[Any]) -> Sighting:
        return cls(row[0], row[1], row[2], row[3])


@dataclass(slots=True, frozen=True)
class Probe:
    """What the index needs to check and remember one comment: who, when, the normalised text
    and its index keys (exact fingerprint first, then the LSH band keys)."""

    sighting: Sighting
    norm: str
    keys: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"s": self.sighting.to_list(), "n": self.norm, "k": list(self.keys)}

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> Probe:
        return cls(Sighting.from_list(obj["s"]), obj["n"], tuple(obj["k"]))


@dataclass(slots=True, frozen=True)
class Match:
    """An earlier comment found similar enough."""

    sighting: Sighting
    similarity: float

    def to_list(self) -> list[Any]:
        return [*self.sighting.to_list(), self.similarity]

    @classmethod
    def from_list(cls, row: Sequence[Any]) -> Match:
        return cls(Sighting.from_list(row[:4]), float(row[4]))


@dataclass(slots=True)
class DuplicateConfig:
    window: float = WINDOW_SECONDS
    threshold: float = THRESHOLD
    params: LshParams = PARAMS
    max_per_key: int = MAX_PER_KEY
    max_comments: int = MAX_COMMENTS
    hasher: MinHasher = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.hasher = MinHasher(self.params)


def fingerprint(norm: str) -> str:
    """The exact-duplicate key of a normalised text."""
    return "x" + hashlib.blake2b(norm.encode(), digest_size=8).hexdigest()


def is_empty(text: str) -> bool:
    """Empty, whitespace-only or punctuation-only (what a reader sees has under MIN_CHARS)."""
    return len(normalise(text)) < MIN_CHARS


def _keys_of(norm: str, config: DuplicateConfig) -> list[str]:
    return [fingerprint(norm), *config.hasher.band_keys(shingle_hashes(norm, config.params.k))]


def probe(
    config: DuplicateConfig, comment_id: str, author: str | None, thread_id: str, at: float, text: str
) -> Probe | None:
    """The index keys of a comment; None when it is too short to compare (empty or junk)."""
    norm = normalise_duplicate(text)[:MAX_DOC_CHARS]
    if len(norm) < MIN_CHARS:
        return None
    return Probe(Sighting(comment_id, author, thread_id, at), norm, tuple(_keys_of(norm, config)))


def key_partition(key: str, partitions: int) -> int:
    """The partition whose shard of the index holds `key` (stable across processes)."""
    return zlib.crc32(key.encode()) % partitions


def keys_by_partition(keys: Iterable[str], partitions: int) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for key in keys:
        out.setdefault(key_partition(key, partitions), []).append(key)
    return dict(sorted(out.items()))


def doc_key(shard: int, comment_id: str) -> str:
    # The shard number keeps each partition's copy of a comment distinct in a shared store.
    return f"d{shard}:{comment_id}"


def log_key(shard: int, seq: int) -> str:
    return f"l{shard}:{seq}"


def head_key(shard: int) -> str:
    return f"q{shard}"


def remembered(index: Index, shard: int) -> int:
    """How many comments one shard of the index holds."""
    head = index.get(head_key(shard))
    return 0 if head is None else int(head[1] - head[0])


OnEvict = Callable[[str], None]


def match_and_index(
    index: Index,
    p: Probe,
    keys: Sequence[str],
    config: DuplicateConfig,
    *,
    shard: int = 0,
    wall: float | None = None,
    on_evict: OnEvict | None = None,
) -> list[Match]:
    """Find earlier comments sharing any of `keys` and similar enough; remember this comment.

    Each key keeps [comment_id, at] rows: expired ones are dropped when the key is touched, and a
    key keeps the oldest row still in the window and the newest ones (bounded). A re-delivered
    comment (same id) is not a duplicate of itself: at-least-once delivery. `wall` (the wall
    clock, in the stream) stops a far-future posted_at from expiring the whole shard.
    """
    new = p.sighting
    horizon = new.at - config.window
    candidates: dict[str, None] = {}
    for key in keys:
        rows = [r for r in index.get(key, ()) if r[1] >= horizon and r[0] != new.comment_id]
        for r in rows:
            if abs(new.at - r[1]) <= config.window:
                candidates[r[0]] = None
        rows.append([new.comment_id, new.at])
        if len(rows) > config.max_per_key:
            rows = [rows[0], *rows[len(rows) - config.max_per_key + 1 :]]
        index[key] = rows
    matches: list[Match] = []
    mine = None
    for cid in candidates:
        doc = index.get(doc_key(shard, cid))
        if doc is None:
            continue
        old, norm = Sighting.from_list(doc), doc[4]
        if norm == p.norm:
            similarity = 1.0
        else:
            if mine is None:
                mine = shingle_set(p.norm, config.params.k)
            similarity = jaccard_sets(mine, shingle_set(norm, config.params.k))
        if similarity >= config.threshold:
            matches.append(Match(old, round(similarity, 4)))
    dkey = doc_key(shard, new.comment_id)
    seen = index.get(dkey) is not None  # a re-delivered comment keeps its place in the log
    # Which of the comment's keys this shard holds, as a bit mask over p.keys: eviction recomputes
    # the keys from the text (about 0.1 ms) instead of storing them (about 380 bytes per comment).
    mine_keys = set(keys)
    mask = sum(1 << i for i, key in enumerate(p.keys) if key in mine_keys)
    index[dkey] = [*new.to_list(), p.norm, mask]  # written before evicting: its keys are in use
    if not seen:
        at = new.at if wall is None else min(new.at, wall + MAX_CLOCK_SKEW)
        first, nxt, now = index.get(head_key(shard)) or (0, 0, at)
        index[log_key(shard, nxt)] = new.comment_id
        head = [first, nxt + 1, max(now, at)]
        index[head_key(shard)] = _evict(index, shard, head, config, on_evict)
    return matches


def _evict(
    index: Index, shard: int, head: list[Any], config: DuplicateConfig, on_evict: OnEvict | None
) -> list[Any]:
    """Forget the oldest comments of a shard that left the window or exceed the budget."""
    first, nxt, now = head
    horizon = now - config.window
    for _ in range(EVICT_BATCH):
        if first >= nxt - 1:  # never the comment being added
            break
        cid = index.get(log_key(shard, first))
        doc = None if cid is None else index.get(doc_key(shard, cid))
        over = nxt - first > config.max_comments
        if not over and doc is not None and doc[3] >= horizon:
            break
        if doc is not None:
            _forget(index, shard, doc, horizon, config)
        if cid is not None:
            del index[log_key(shard, first)]
        first += 1
        if on_evict is not None:
            on_evict("budget" if over else "window")
    return [first, nxt, now]


def _forget(index: Index, shard: int, doc: list[Any], horizon: float, config: DuplicateConfig) -> None:
    """Delete a comment's doc row and the keys that refer to no remembered comment any more (a
    key shared with comments still remembered keeps its row until it is touched or trimmed)."""
    cid, mask = doc[0], doc[5] if len(doc) > 5 else 0  # rows from before the log: no mask
    del index[doc_key(shard, cid)]
    for i, key in enumerate(_keys_of(doc[4], config)):
        if not mask >> i & 1:
            continue
        rows = index.get(key)
        if rows is not None and all(
            r[0] == cid or r[1] < horizon or index.get(doc_key(shard, r[0])) is None for r in rows
        ):
            del index[key]


def _scope(new: Sighting, old: Sighting) -> str:
    if new.author is not None and new.author == old.author:
        return "author"
    if new.thread_id == old.thread_id:
        return "thread"
    return "campaign"


def empty_result() -> StageResult:
    reason = Reason("duplicate.empty", "empty or near-empty comment", 0.3)
    return StageResult("duplicates", "empty", 0.3, [reason], VERSION, {})


def verdict(p: Probe | None, matches: Iterable[Match], *, partial: bool = False) -> StageResult:
    """The stage result from the matches found in every shard (order does not matter)."""
    if p is None:
        return StageResult("duplicates", "unique", 0.0, [], VERSION, {"short": True})
    new = p.sighting
    best: dict[str, Match] = {}
    for m in matches:
        if m.sighting.comment_id != new.comment_id:
            prev = best.get(m.sighting.comment_id)
            if prev is None or m.similarity > prev.similarity:
                best[m.sighting.comment_id] = m
    data: dict[str, Any] = {"fingerprint": p.keys[0]}
    if partial:
        data["partial"] = True  # a shard did not answer in time: matches may be missing
    if not best:
        return StageResult("duplicates", "unique", 0.0, [], VERSION, data)
    found = sorted(best.values(), key=lambda m: (m.sighting.at, m.sighting.comment_id))
    first = found[0]
    exact = any(m.similarity >= 1.0 for m in found)
    top = max(m.similarity for m in found)
    scopes = sorted({_scope(new, m.sighting) for m in found})
    authors = {m.sighting.author for m in found if m.sighting.author} | (
        {new.author} if new.author else set()
    )
    threads = {m.sighting.thread_id for m in found} | {new.thread_id}
    how = "same text" if exact else f"near copy ({top:.0%} similar)"
    reasons = []
    if "author" in scopes:
        reasons.append(Reason("duplicate.author", f"same author posted this before: {how}", 0.5))
    if "thread" in scopes:
        reasons.append(Reason("duplicate.thread", f"posted in this thread before: {how}", 0.4))
    if "campaign" in scopes:
        reasons.append(
            Reason(
                "duplicate.campaign",
                f"{how} in {len(threads)} threads by {len(authors)} authors",
                0.6 if len(threads) > 2 else 0.4,
            )
        )
    if not exact:
        reasons.append(Reason("duplicate.near", "an edited copy, not the same text", 0.0, f"{top:.2f}"))
    data.update(
        {
            "similarity": top,
            "kind": "exact" if exact else "near",
            "scopes": scopes,
            "original_id": first.sighting.comment_id,
            "original_similarity": first.similarity,
            "seconds_since": max(0.0, new.at - first.sighting.at),
            "matches": len(found),
            "match_ids": [m.sighting.comment_id for m in found[:MAX_MATCH_IDS]],
        }
    )
    score = min(1.0, max(r.weight for r in reasons) + 0.1 * (len(found) - 1))
    if not exact:
        score *= 0.9  # an edited copy is a little less certain than the same text
    label = "duplicate" if exact else "near_duplicate"
    return StageResult("duplicates", label, round(score, 4), reasons, VERSION, data)


def check_duplicate(
    config: DuplicateConfig,
    index: Index,
    comment_id: str,
    author: str | None,
    thread_id: str,
    at: float,
    text: str,
) -> StageResult:
    """The whole stage on one index (offline, or a single partition): probe, match, verdict."""
    if is_empty(text):
        return empty_result()
    p = probe(config, comment_id, author, thread_id, at, text)
    if p is None:
        return verdict(None, ())
    return verdict(p, match_and_index(index, p, p.keys, config))


class _JsonKeys(MutableMapping[str, Any]):
    """str -> JSON view of a bytes mapping (interim layout: every index key is a record)."""

    def __init__(self, data: MutableMapping[bytes, bytes]) -> None:
        self.data = data

    def __getitem__(self, key: str) -> Any:
        return orjson.loads(self.data[key.encode()])

    def get(self, key: str, default: Any = None) -> Any:
        raw = self.data.get(key.encode())
        return default if raw is None else orjson.loads(raw)

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key.encode()] = orjson.dumps(value)

    def __delitem__(self, key: str) -> None:
        del self.data[key.encode()]

    def __iter__(self) -> Any:
        return (k.decode() for k in self.data)

    def __len__(self) -> int:
        return len(self.data)


class DuplicateShard:
    """One partition of the duplicate index: durable `records` and a local `derived` index."""

    def __init__(
        self,
        config: DuplicateConfig,
        shard: int,
        records: MutableMapping[bytes, bytes],
        derived: MutableMapping[bytes, bytes],
    ) -> None:
        self.config = config
        self.shard = shard
        self._index = _JsonKeys(records)

    def match_and_index(
        self, p: Probe, keys: Sequence[str], *, wall: float | None = None, on_evict: OnEvict | None = None
    ) -> list[Match]:
        return match_and_index(
            self._index, p, keys, self.config, shard=self.shard, wall=wall, on_evict=on_evict
        )

    def rebuild(self) -> int:
        return self.remembered()

    def remembered(self) -> int:
        return remembered(self._index, self.shard)
