"""Duplicate detection: exact and near repeats of earlier comments by the same author, in the same
thread, or across threads (a campaign), over a bounded time window.

How: the text is normalised (`text.normalise_duplicate`), cut into character 5-grams and MinHash-ed
into a signature of one-byte values whose bands are the comment's index keys (`minhash.py`).
A candidate (an earlier comment sharing a band key) is first judged by its signature: the share of
equal bytes estimates the Jaccard similarity; a candidate estimated far below the threshold is
dropped without touching its text, one far above it is taken with the estimate. The rest (those
near the threshold, and every candidate of a short text) get the exact Jaccard similarity of their
shingles, from the normalised text each comment keeps (compressed), so whether a comment matches
does not depend on the estimate. The shingles are compared as sorted packed integers (a Latin-1
5-gram fits one to one in 40 bits; `minhash.exact_shingles`), all of a comment's unsure candidates
in one vectorised search, and cached per process by compressed text.

The core is split so that the stream can spread it over partitions:

- `probe()` computes the normalised text, signature and band keys (no state); a `Probe` travels
  as `to_bytes()` (a 29-byte head, the id, the 48-byte signature, 4 bytes per key and the
  compressed text; sizes in docs/duplicates.md) to the shards that own its keys
  (`keys_by_partition`);
- `DuplicateShard.match_and_index()` checks and updates one shard: `records` (durable, changelogged)
  gets one write per new comment and one delete per forgotten one; `derived` (local, rebuilt from
  `records` whenever it is lost) holds the band-key index and the arrival order;
- `verdict()` combines the matches from every shard into the stage result.

Offline (`check_duplicate`), one shard with two dicts is the whole index, and the result is the
same as the stream's on a single partition. State layout and sizing: docs/duplicates.md.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from streamproc.detect.minhash import (
    U64,
    Layout,
    LshParams,
    MinHasher,
    equal_bytes,
    exact_shingles,
    intersection_sizes,
    shingle_set,
)
from streamproc.detect.native import C as _kernels
from streamproc.detect.text import normalise, normalise_duplicate
from streamproc.events import Reason, StageResult

VERSION = "duplicates-3"
WINDOW_SECONDS = 7 * 24 * 3600.0  # a week: spam campaigns and double posts recur within days
THRESHOLD = 0.5  # Jaccard of 5-gram sets at or above which two comments are near-duplicates
# 16 bands of 3 rows for every text (P(share a key) = 0.88 at J 0.5, 0.999 at 0.7); texts of at
# most 48 distinct 5-grams (about 50 characters) also get 12 bands of 2 rows from 24 rows of their
# own, because near copies of short comments sit at J 0.5-0.65 (tests/quality, short corpus).
PARAMS = LshParams(k=5, layout=Layout(16, 3), short_layout=Layout(12, 2, first=48), short_shingles=48)
MAX_PER_KEY = 24  # comments remembered per index key: the oldest in the window and the newest
MAX_DOC_CHARS = 2000  # normalised text kept per comment for verification; longer is cut
MIN_CHARS = 3  # shorter texts ("ok", "+1", "!!!") are empty or junk, not compared
MAX_MATCH_IDS = 5  # earlier comments listed in the verdict
MAX_MATCHES = 32  # matches a shard returns (and memoises) per comment: the earliest
# A candidate whose signature estimate is this far below the threshold is dropped unverified, one
# this far above it is taken with the estimate as its similarity; only those in between (and exact
# copies, by their text, and candidates of short texts, whose exact Jaccard is cheap) are compared
# exactly. The estimate over 48 one-byte rows has a standard deviation of at most 0.072, so 0.2 is
# 2.8 of them: a pair at the threshold lands on the wrong side about once in 400, and pairs that
# close are a few percent of all (tests/quality: precision and recall against exact all-pairs stay
# >= 0.99; a margin of 0.25 costs a fifth more exact comparisons for no measurable gain).
REJECT_MARGIN = 0.2
# Size budget: comments remembered per shard. The bench measures about 235 bytes of records and
# 115 bytes of derived index per comment, so the default caps a shard near 350 MB; the window (a
# week) is what normally bounds it.
MAX_COMMENTS = 1_000_000
EVICT_BATCH = 8  # evictions per new comment at most: a backlog after a pause is spread out
SHINGLE_CACHE = 8192  # candidates' shingles kept per process (about 1.3 kB each: 10 MB)
MAX_CLOCK_SKEW = 3600.0  # a posted_at further ahead of the wall clock does not move stream time

OnEvict = Callable[[str], None]


def _id_hash(value: str | None) -> int:
    """A 32-bit hash of an author or thread id (0 is "no author"): scopes only compare them, and
    two ids of one comment's few matches collide about once in four billion comparisons."""
    if value is None:
        return 0
    return int.from_bytes(hashlib.blake2b(value.encode(), digest_size=4).digest(), "big") or 1


class Sighting(NamedTuple):
    """A comment as the index remembers it: author and thread as hashes (only compared). A named
    tuple, like Match: every match makes one (and the stage reads them back from lists), and a
    frozen dataclass costs three times as much to build."""

    comment_id: str
    author: int  # 0: no author
    thread: int
    at: float

    def to_list(self) -> list[Any]:
        return [self.comment_id, self.author, self.thread, self.at]

    @classmethod
    def from_list(cls, row: Sequence[Any]) -> Sighting:
        return cls(row[0], row[1], row[2], row[3])

    @classmethod
    def of(cls, comment_id: str, author: str | None, thread_id: str, at: float) -> Sighting:
        return cls(comment_id, _id_hash(author), _id_hash(thread_id), at)


class Match(NamedTuple):
    """An earlier comment found similar enough (similarity rounded to 4 places)."""

    sighting: Sighting
    similarity: float

    def to_list(self) -> list[Any]:
        return [*self.sighting.to_list(), self.similarity]

    @classmethod
    def from_list(cls, row: Sequence[Any]) -> Match:
        return cls(Sighting.from_list(row[:4]), float(row[4]))


_PROBE_HEAD = struct.Struct(">BdII8sHBB")  # version, at, author, thread, fingerprint, id, sig, keys
_WIRE_VERSION = 1


@dataclass(slots=True, frozen=True)
class Probe:
    """What a shard needs to check and remember one comment: who and when, the signature, the
    band keys, and the normalised text (raw deflate) for exact verification."""

    sighting: Sighting
    fingerprint: bytes  # 8 bytes: the exact-duplicate identity of the normalised text
    sig: bytes
    keys: tuple[int, ...]
    text: bytes

    def to_bytes(self) -> bytes:
        s = self.sighting
        cid = s.comment_id.encode()
        head = _PROBE_HEAD.pack(
            _WIRE_VERSION, s.at, s.author, s.thread, self.fingerprint, len(cid), len(self.sig), len(self.keys)
        )
        return b"".join((head, cid, self.sig, struct.pack(f">{len(self.keys)}I", *self.keys), self.text))

    @classmethod
    def from_bytes(cls, data: bytes) -> Probe:
        version, at, author, thread, fp, n_id, n_sig, n_keys = _PROBE_HEAD.unpack_from(data)
        if version != _WIRE_VERSION:
            raise ValueError(f"duplicate probe wire version {version}, expected {_WIRE_VERSION}")
        i = _PROBE_HEAD.size
        cid = data[i : i + n_id].decode()
        i += n_id
        sig = data[i : i + n_sig]
        i += n_sig
        keys = struct.unpack_from(f">{n_keys}I", data, i)
        i += 4 * n_keys
        return cls(Sighting(cid, author, thread, at), fp, sig, keys, data[i:])

    def to_dict(self) -> dict[str, Any]:
        """For JSON messages: the wire bytes in base64."""
        return {"b": base64.b64encode(self.to_bytes()).decode()}

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> Probe:
        return cls.from_bytes(base64.b64decode(obj["b"]))

    @property
    def fingerprint_hex(self) -> str:
        return "x" + self.fingerprint.hex()


@dataclass(slots=True)
class DuplicateConfig:
    window: float = WINDOW_SECONDS
    threshold: float = THRESHOLD
    params: LshParams = PARAMS
    max_per_key: int = MAX_PER_KEY
    max_comments: int = MAX_COMMENTS
    hasher: MinHasher = field(init=False, repr=False)
    # Shingles of recently verified candidates, shared by every shard of a process and keyed by
    # the compressed text itself (so never stale): same-topic comments meet the same earlier
    # comments again and again, and decompressing and packing them is most of an exact check.
    shingle_cache: OrderedDict[bytes, U64 | None] = field(init=False, repr=False, default_factory=OrderedDict)

    def __post_init__(self) -> None:
        if max(self.params.layout.rows, self.params.short_layout.rows) > 3 or self.params.max_keys > 32:
            # a band key is 4 bytes (band number, up to three row bytes); the key mask is 32 bits
            raise ValueError(
                f"duplicate LSH layout needs at most 3 rows per band and 32 bands: {self.params}"
            )
        self.hasher = MinHasher(self.params)


def compress(norm: str) -> bytes:
    """Raw deflate (no header): about two thirds of the normalised text's size. A 2 KiB window (the
    text is at most MAX_DOC_CHARS) makes it three times faster than the default 32 KiB one."""
    return zlib.compress(norm.encode(), 9, wbits=-11)


def decompress(data: bytes) -> str:
    return zlib.decompress(data, -15).decode()


# Three word characters, which normalising keeps: enough to know a text is not empty.
_THREE_WORD_CHARS = re.compile(r"\w\W*\w\W*\w")


def is_empty(text: str) -> bool:
    """Empty, whitespace-only or punctuation-only (what a reader sees has under MIN_CHARS)."""
    if text.isascii() and "<" not in text and "&" not in text and _THREE_WORD_CHARS.search(text):
        return False  # no tag or entity to drop, no letter to fold: normalising keeps all three
    return len(normalise(text)) < MIN_CHARS


def probe(
    config: DuplicateConfig, comment_id: str, author: str | None, thread_id: str, at: float, text: str
) -> Probe | None:
    """The signature and index keys of a comment; None when it is too short to compare."""
    norm = normalise_duplicate(text)[:MAX_DOC_CHARS]
    if len(norm) < MIN_CHARS:
        return None
    sig = config.hasher.signature_of(norm)
    return Probe(
        Sighting.of(comment_id, author, thread_id, at),
        hashlib.blake2b(norm.encode(), digest_size=8).digest(),
        sig,
        tuple(config.hasher.band_keys(sig)),
        compress(norm),
    )


def key_partition(key: int, partitions: int) -> int:
    """The partition whose shard of the index holds `key` (stable across processes)."""
    return zlib.crc32(key.to_bytes(4, "big")) % partitions


def keys_by_partition(keys: Iterable[int], partitions: int) -> dict[int, list[int]]:
    if partitions == 1:  # `check`, and a one-partition topic: no hashing
        keys = list(keys)
        return {0: keys} if keys else {}
    out: dict[int, list[int]] = {}
    for key in keys:
        out.setdefault(key_partition(key, partitions), []).append(key)
    return dict(sorted(out.items()))


# --- One shard: durable records, derived index ------------------------------------------------
#
# records: arrival number modulo 2**32 (4 bytes) -> record, one per comment:
#   >B6sdIIIBHB  flags (1: matches follow), arrival number (48 bits), posted_at, author hash,
#                thread hash, key mask (bit i: probe key i lives on this shard), signature length,
#                text length, id length; then the signature, the compressed text, the comment id,
#                and the memoised matches: count, then per match id length, id, posted_at, author,
#                thread, similarity x 10^4.
# derived (any of it may be lost; `rebuild()` recreates it from the records alone):
#   4-byte band key  -> arrival numbers (u32 each) of the comments that had it, oldest first
#   b"\xff" + id     -> arrival number of that comment (for re-deliveries)
#   b"\xfe"          -> head: oldest arrival number still held, the next one, stream clock
# Keying records by arrival number lets a candidate found in the index be read with one lookup,
# and makes the record key 4 bytes whatever the comment ids look like.

_RECORD = struct.Struct(">B6sdIIIBHB")
_MATCH = struct.Struct(">dIIH")
_AT = struct.Struct(">d")  # posted_at, at offset 7 of a record
_HEAD = struct.Struct(">QQd")
_SIG_AT = _RECORD.size
_HEAD_KEY = b"\xfe"
_ID = b"\xff"
_HAS_MATCHES = 1
_U32 = 0xFFFFFFFF


@dataclass(slots=True)
class Record:
    seq: int
    sighting: Sighting
    mask: int
    sig: bytes
    text: bytes
    matches: tuple[Match, ...]

    def encode(self) -> bytes:
        s = self.sighting
        cid = s.comment_id.encode()
        head = _RECORD.pack(
            _HAS_MATCHES if self.matches else 0,
            self.seq.to_bytes(6, "big"),
            s.at,
            s.author,
            s.thread,
            self.mask,
            len(self.sig),
            len(self.text),
            len(cid),
        )
        parts = [head, self.sig, self.text, cid]
        if self.matches:
            parts.append(bytes([len(self.matches)]))
            for m in self.matches:
                mid = m.sighting.comment_id.encode()
                parts += [bytes([len(mid)]), mid]
                parts.append(
                    _MATCH.pack(
                        m.sighting.at, m.sighting.author, m.sighting.thread, round(m.similarity * 10_000)
                    )
                )
        return b"".join(parts)

    @classmethod
    def decode(cls, data: bytes, *, matches: bool = True) -> Record:
        flags, seq, at, author, thread, mask, n_sig, n_text, n_id = _RECORD.unpack_from(data)
        i = _RECORD.size
        sig = data[i : i + n_sig]
        i += n_sig
        text = data[i : i + n_text]
        i += n_text
        cid = data[i : i + n_id].decode()
        i += n_id
        found: list[Match] = []
        if matches and flags & _HAS_MATCHES:
            count = data[i]
            i += 1
            for _ in range(count):
                n = data[i]
                mid = data[i + 1 : i + 1 + n].decode()
                i += 1 + n
                m_at, m_author, m_thread, sim = _MATCH.unpack_from(data, i)
                i += _MATCH.size
                found.append(Match(Sighting(mid, m_author, m_thread, m_at), sim / 10_000))
        sighting = Sighting(cid, author, thread, at)
        return cls(int.from_bytes(seq, "big"), sighting, mask, sig, text, tuple(found))


def _near_records(
    sig: bytes,
    postings: Sequence[bytes | None],
    get: Callable[[bytes], bytes | None],
    rows: int,
    floor: float,
) -> list[tuple[bytes, int]]:
    """The records of the arrival numbers in `postings` (each once: a comment shares several keys)
    whose signature has at least `floor` of its first `rows` bytes equal to `sig`'s, with that
    count; in one C pass when the kernels are built."""
    if _kernels is not None:
        near: list[tuple[bytes, int]] = _kernels.near_records(sig, postings, get, _SIG_AT, rows, floor)
        return near
    # integers dedupe faster than slices
    found = [seq.to_bytes(4, "big") for seq in set(_seqs(b"".join([r for r in postings if r])))]
    datas = [d for d in map(get, found) if d is not None]  # None: evicted, or a crash
    if not datas:
        return []
    counts = equal_bytes(sig, datas, _SIG_AT, rows)  # one vectorised comparison of them all
    return [(data, same) for data, same in zip(datas, counts, strict=True) if same >= floor]


def _u32(seq: int) -> bytes:
    return (seq & _U32).to_bytes(4, "big")


def _seqs(value: bytes | None) -> tuple[int, ...]:
    return struct.unpack(f">{len(value) // 4}I", value) if value else ()


def _pack(seqs: Sequence[int]) -> bytes:
    return struct.pack(f">{len(seqs)}I", *(s & _U32 for s in seqs))


@dataclass(slots=True)
class _Head:
    first: int  # oldest arrival number still held (or already gone: eviction moves past it)
    next: int  # arrival number of the next comment
    now: float  # stream clock: the latest posted_at seen, bounded by the wall clock

    def encode(self) -> bytes:
        return _HEAD.pack(self.first, self.next, self.now)

    def full(self, seq32: int) -> int:
        """The arrival number whose low 32 bits are `seq32` (fewer than 2**32 comments are held)."""
        return self.next - ((self.next - seq32) & _U32)


class DuplicateShard:
    """One shard of the duplicate index: `records` is durable (every write is a changelog write in
    the stream), `derived` is a local index rebuilt from `records` whenever its head is missing.

    Rebuilding is automatic: when the derived head is missing (a new or emptied store), and when the
    arrival number the head would give the next comment already has a record (the index is behind
    the records, e.g. a RocksDB derived store that outlived a crash while the records were
    recovered from the changelog). An index ahead of the records (it saw comments whose record
    writes were lost) only has entries pointing at nothing, which every reader skips. An adapter
    may still call `rebuild()` after a partition is (re)assigned, to start from a known state.
    """

    def __init__(
        self,
        config: DuplicateConfig,
        shard: int,
        records: MutableMapping[bytes, bytes],
        derived: MutableMapping[bytes, bytes],
    ) -> None:
        self.config = config
        self.shard = shard
        self.records = records
        self.derived = derived

    def needs_rebuild(self) -> bool:
        return _HEAD_KEY not in self.derived

    def remembered(self) -> int:
        """Comments this shard holds (from the derived head: no scan)."""
        raw = self.derived.get(_HEAD_KEY)
        if raw is None:
            return 0
        first, nxt, _ = _HEAD.unpack(raw)
        return nxt - first

    def _head(self) -> _Head:
        raw = self.derived.get(_HEAD_KEY)
        if raw is None:
            self.rebuild()
            raw = self.derived[_HEAD_KEY]
        return _Head(*_HEAD.unpack(raw))

    def _keys_of(self, sig: bytes, mask: int) -> list[int]:
        keys = self.config.hasher.band_keys(sig)
        return [key for i, key in enumerate(keys) if mask >> i & 1]

    def held(self, comment_id: str) -> Record | None:
        """The record of a comment this shard holds, if any."""
        seq = self.derived.get(_ID + comment_id.encode())
        data = None if seq is None else self.records.get(seq)
        if data is None:
            return None
        record = Record.decode(data)
        return record if record.sighting.comment_id == comment_id else None

    # -- the one call per comment ----------------------------------------------------------------

    def match_and_index(
        self,
        p: Probe,
        keys: Sequence[int],
        *,
        wall: float | None = None,
        on_evict: OnEvict | None = None,
    ) -> list[Match]:
        """Find earlier comments sharing any of `keys` (the probe's keys that live on this shard)
        and similar enough; remember this comment.

        A comment this shard already holds (re-delivered) gets the matches it got the first time and
        changes nothing. `wall` (the wall clock, in the stream) stops a far-future posted_at from
        moving the shard's clock and expiring everything.
        """
        new = p.sighting
        head = self._head()
        if _u32(head.next) in self.records:  # the index is behind the records (it outlived a crash)
            self.rebuild()
            head = self._head()
        again = self.held(new.comment_id)
        if again is not None:
            return list(again.matches)
        derived = self.derived
        bkeys = [key.to_bytes(4, "big") for key in keys]
        postings = [derived.get(bkey) for bkey in bkeys]
        matches = self._matches(p, postings)
        # Derived first, then the record: a crash in between leaves index entries without a
        # record, which every reader skips, never a record that the index cannot reach.
        seq = head.next
        packed = _u32(seq)
        full = 4 * self.config.max_per_key
        for bkey, rows in zip(bkeys, postings, strict=True):
            if not rows:
                derived[bkey] = packed
            elif len(rows) < full:
                derived[bkey] = rows + packed
            else:  # keep the oldest still held and the newest (evictions remove theirs)
                derived[bkey] = rows[:4] + rows[len(rows) - full + 8 :] + packed
        derived[_ID + new.comment_id.encode()] = packed
        at = new.at if wall is None else min(new.at, wall + MAX_CLOCK_SKEW)
        head = _Head(head.first, seq + 1, max(head.now, at))
        derived[_HEAD_KEY] = head.encode()
        if len(keys) == len(p.keys):  # one shard holds them all (offline, one partition)
            mask = (1 << len(keys)) - 1
        else:
            mine = set(keys)
            mask = sum(1 << i for i, key in enumerate(p.keys) if key in mine)
        self.records[packed] = Record(seq, new, mask, p.sig, p.text, tuple(matches)).encode()
        if self._evict(head, on_evict):
            derived[_HEAD_KEY] = head.encode()
        return matches

    def _matches(self, p: Probe, postings: Sequence[bytes | None]) -> list[Match]:
        """The earlier comments in `postings` whose similarity reaches the threshold: the signature
        estimate drops the clearly dissimilar and takes the clearly similar, the exact Jaccard
        decides the rest (and says 1.0 only for the same text)."""
        config = self.config
        new = p.sighting
        rows = config.params.layout.end  # the rows every signature has: what the estimate compares
        # equal bytes for an estimate at the floor and at the ceiling (b-bit: two different minima
        # agree by chance once in 256)
        floor = rows * ((config.threshold - REJECT_MARGIN) * (1 - 1 / 256) + 1 / 256)
        ceiling = rows * ((config.threshold + REJECT_MARGIN) * (1 - 1 / 256) + 1 / 256)
        if len(p.sig) > rows:  # a short text: its exact Jaccard is cheap, and one word moves it a lot
            ceiling = rows + 1
        near = _near_records(p.sig, postings, self.records.get, rows, floor)  # most are dropped here
        # Who and when as plain tuples: most candidates are dropped, only matches become Sightings.
        taken: list[tuple[tuple[str, int, int, float], float]] = []
        unsure: list[tuple[str, int, int, float]] = []  # near the threshold: the exact Jaccard decides
        texts: list[bytes] = []
        for data, same in near:
            _, _, at, author, thread, _, n_sig, n_text, n_id = _RECORD.unpack_from(data)
            i = _SIG_AT + n_sig
            cid = data[i + n_text : i + n_text + n_id].decode()
            if cid == new.comment_id or abs(new.at - at) > config.window:
                continue
            text = data[i : i + n_text]
            if text == p.text or (same == rows and decompress(text) == decompress(p.text)):
                taken.append(((cid, author, thread, at), 1.0))  # the same text (compared
                # decompressed if another zlib wrote it)
            elif same >= ceiling:
                estimate = min(round((same / rows - 1 / 256) / (1 - 1 / 256), 4), 0.9999)
                taken.append(((cid, author, thread, at), estimate))
            else:
                unsure.append((cid, author, thread, at))
                texts.append(text)
        threshold = config.threshold
        if unsure:
            for who, ratio in zip(unsure, self._jaccards(p.text, texts), strict=True):
                if ratio >= threshold - 0.001:  # rounding moves it 0.00005 at most: no match below
                    taken.append((who, min(round(ratio, 4), 0.9999)))
        # The earliest, as tuples: a repeated text can have hundreds of matches, only these are kept.
        kept = sorted((t for t in taken if t[1] >= threshold), key=lambda t: (t[0][3], t[0][0]))
        return [Match(Sighting(*who), similarity) for who, similarity in kept[:MAX_MATCHES]]

    def _jaccards(self, text: bytes, others: Sequence[bytes]) -> list[float]:
        """The exact Jaccard similarity of a compressed text's shingle set with each of `others`'."""
        mine = self._shingles(text)
        theirs = [self._shingles(other) for other in others]
        if mine is not None and all(s is not None for s in theirs):
            arrays = [s for s in theirs if s is not None]
            shared = intersection_sizes(mine, arrays)
            size, sizes = len(mine), [len(s) for s in arrays]
        else:  # a character beyond Latin-1 (rare: normalising folds most to Latin): string sets
            k = self.config.params.k
            strings = shingle_set(decompress(text), k)
            sets = [shingle_set(decompress(other), k) for other in others]
            shared = [len(strings & s) for s in sets]
            size, sizes = len(strings), [len(s) for s in sets]
        return [i / (size + n - i) for i, n in zip(shared, sizes, strict=True)]

    def _shingles(self, text: bytes) -> U64 | None:
        """The exact shingles of a compressed text (`exact_shingles`), from the process's cache if
        they are there."""
        cache = self.config.shingle_cache
        cached = cache.get(text, False)
        if cached is not False:
            cache.move_to_end(text)
            return cached
        built = cache[text] = exact_shingles(decompress(text), self.config.params.k)
        if len(cache) > SHINGLE_CACHE:
            cache.popitem(last=False)
        return built

    # -- bounds ----------------------------------------------------------------------------------

    def _evict(self, head: _Head, on_evict: OnEvict | None) -> bool:
        """Forget the oldest comments that left the window or exceed the budget (a few at most);
        True when the head moved."""
        start = head.first
        horizon = head.now - self.config.window
        for _ in range(EVICT_BATCH):
            if head.first >= head.next - 1:  # never the comment being added
                break
            key = _u32(head.first)
            data = self.records.get(key)
            if data is None:  # gone already (a crash between the two stores)
                head.first += 1
                continue
            over = head.next - head.first > self.config.max_comments
            if not over and _AT.unpack_from(data, 7)[0] >= horizon:  # the usual case: nothing to do
                break
            record = Record.decode(data, matches=False)
            del self.records[key]  # the durable delete first: a crash leaves derived behind
            self._unindex(head, self._keys_of(record.sig, record.mask))
            rid = _ID + record.sighting.comment_id.encode()
            if self.derived.get(rid) == key:
                del self.derived[rid]
            head.first += 1
            if on_evict is not None:
                on_evict("budget" if over else "window")
        return head.first != start

    def _unindex(self, head: _Head, keys: Iterable[int]) -> None:
        """Drop the oldest comment (head.first) and anything older from its keys' rows."""
        for key in keys:
            bkey = key.to_bytes(4, "big")
            rows = self.derived.get(bkey)
            if not rows:
                continue
            left = [s for s in map(head.full, _seqs(rows)) if s > head.first]
            if len(left) == len(rows) // 4:
                continue  # trimmed off this key earlier
            if left:
                self.derived[bkey] = _pack(left)
            else:
                del self.derived[bkey]

    # -- recovery --------------------------------------------------------------------------------

    def rebuild(self) -> int:
        """Recreate the derived index from the records alone; returns the comments indexed."""
        rows = []
        unpack = _RECORD.unpack_from
        for key, data in self.records.items():
            _, seq, at, _, _, mask, n_sig, n_text, n_id = unpack(data)
            i = _SIG_AT + n_sig + n_text
            rows.append(
                (
                    int.from_bytes(seq, "big"),
                    key,
                    data[_SIG_AT : _SIG_AT + n_sig],
                    mask,
                    at,
                    data[i : i + n_id],
                )
            )
        rows.sort()
        if isinstance(self.derived, dict):
            self.derived.clear()
        else:  # MutableMapping.clear() pops one item at a time, re-iterating from the start
            for key in list(self.derived.keys()):
                del self.derived[key]
        postings: dict[int, list[bytes]] = {}  # band key -> record keys (= arrival numbers, u32)
        cap = self.config.max_per_key
        now = 0.0
        derived = self.derived
        for _, key, sig, mask, at, cid in rows:
            for band in self._keys_of(sig, mask):
                postings.setdefault(band, []).append(key)
            derived[_ID + cid] = key
            now = max(now, at)
        for band, keys in postings.items():
            if len(keys) > cap:
                keys = [keys[0], *keys[len(keys) - cap + 1 :]]
            derived[band.to_bytes(4, "big")] = b"".join(keys)
        first, nxt = (rows[0][0], rows[-1][0] + 1) if rows else (0, 0)
        derived[_HEAD_KEY] = _Head(first, nxt, now).encode()
        return len(rows)


# --- The verdict -------------------------------------------------------------------------------


def _scope(new: Sighting, old: Sighting) -> str:
    if new.author and new.author == old.author:
        return "author"
    if new.thread == old.thread:
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
    data: dict[str, Any] = {"fingerprint": p.fingerprint_hex}
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
    threads = {m.sighting.thread for m in found} | {new.thread}
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


def offline_shard(config: DuplicateConfig) -> DuplicateShard:
    """The whole index in one shard over two dicts: what `check`, `eval` and tests use."""
    return DuplicateShard(config, 0, {}, {})


def check_duplicate(
    shard: DuplicateShard,
    comment_id: str,
    author: str | None,
    thread_id: str,
    at: float,
    text: str,
) -> StageResult:
    """The whole stage on one shard (offline, or a single partition): probe, match, verdict."""
    if is_empty(text):
        return empty_result()
    p = probe(shard.config, comment_id, author, thread_id, at, text)
    if p is None:
        return verdict(None, ())
    return verdict(p, shard.match_and_index(p, p.keys))
