"""Character shingles, MinHash signatures, LSH band keys and the sketch that verifies candidates.

Everything is deterministic across processes and machines (no Python `hash()`), because band keys
computed by one worker are looked up by another and signatures are kept in changelog topics.

A signature is `rows` one-byte MinHash values (b-bit minwise hashing, b = 8): the low byte of each
of `rows` independent minima. It serves twice: consecutive rows grouped into bands give the LSH
band keys (so the index can be rebuilt from the signature alone, without the text), and the share
of equal bytes between two signatures estimates their Jaccard similarity (Li and König, b-bit
minwise hashing), which rejects most candidates without touching their text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
import numpy.typing as npt

from streamproc.detect.native import C as _kernels

U64 = npt.NDArray[np.uint64]

_MASK32 = (1 << 32) - 1
_POLY = np.uint64(0x100000001B3)  # FNV prime: odd, spreads code points over the 64 bits
_HIGH = np.uint64(1 << 63)
# numpy scalars made once: building one costs about as much as an operation on a short array
_MIX1, _MIX2 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)
_SHIFT8, _SHIFT32, _SHIFT33 = np.uint32(8), np.uint64(32), np.uint64(33)
_WINDOW_MASK = [np.uint64((1 << (8 * k)) - 1) for k in range(9)]  # the low k bytes, k <= 8


def _mix(x: U64) -> U64:
    """Spreads structured 64-bit values (packed characters) over all 64 bits: the first half of
    the murmur3 finaliser, enough here because the signature hashes the result again."""
    x = x * _MIX1
    x ^= x >> _SHIFT33
    x *= _MIX2
    return x


def _packed_windows(raw: bytes, k: int) -> U64:
    """Every k-byte window of `raw` (k <= 8) as one little-endian integer: one strided view over
    the bytes instead of k passes, the fast path for Latin-1 text (almost every normalised text)."""
    m = len(raw) - k + 1
    buf = raw + b"\0" * 8
    words = np.ndarray((m,), dtype="<u8", buffer=buf, strides=(1,))
    return words & _WINDOW_MASK[k]


def shingle_hashes(norm: str, k: int) -> U64:
    """64-bit hashes of the character k-grams of a normalised text, in text order (repeats kept:
    a minimum does not care). A text shorter than k is one shingle (itself).

    A k-gram of Latin-1 characters is packed exactly into an integer (k <= 8), any other k-gram is
    a polynomial hash with the top bit set, so the two never collide and a k-gram hashes the same
    whatever the rest of the text is written in."""
    if not norm:
        return np.empty(0, dtype=np.uint64)
    k = min(k, len(norm))
    try:
        raw = norm.encode("latin-1")
    except UnicodeEncodeError:
        raw = b""
    if raw and k <= 8:
        return _mix(_packed_windows(raw, k))
    cps = np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    m = len(cps) - k + 1
    packed = np.zeros(m, dtype=np.uint64)
    poly = np.zeros(m, dtype=np.uint64)
    wide = np.zeros(m, dtype=bool)
    for j in range(k):
        window = cps[j : j + m]
        if j < 8:
            packed |= window << np.uint64(8 * j)
        poly = poly * _POLY + window
        wide |= window > 255
    if k > 8:
        wide[:] = True
    return _mix(np.where(wide, poly | _HIGH, packed))


def shingles(norm: str, k: int) -> U64:
    """The set of character k-grams of a normalised text as sorted unique 64-bit hashes."""
    return np.unique(shingle_hashes(norm, k))


def shingle_set(norm: str, k: int) -> set[str]:
    """The same k-grams as a set of strings (what `exact_shingles` stands for exactly)."""
    if len(norm) <= k:
        return {norm} if norm else set()
    return {norm[i : i + k] for i in range(len(norm) - k + 1)}


def exact_shingles(norm: str, k: int) -> U64 | None:
    """The set of character k-grams of a normalised text as sorted unique integers that stand
    for them one to one (each Latin-1 k-gram packed into its bytes), so counting shared integers
    counts shared k-grams exactly, without a set of Python strings. None when a k-gram does not
    fit in 64 bits with its length (a character beyond Latin-1, or k > 7)."""
    if not norm or k > 7:
        return None
    try:
        raw = norm.encode("latin-1")
    except UnicodeEncodeError:
        return None
    if len(raw) < k:  # the text is its one shingle: its length above the bytes keeps it apart
        return np.array([len(raw) << (8 * k) | int.from_bytes(raw, "little")], dtype=np.uint64)
    if _kernels is not None:
        return np.frombuffer(_kernels.exact_shingles(raw, k), dtype=np.uint64)
    packed = np.sort(_packed_windows(raw, k))
    first = np.empty(len(packed), dtype=bool)  # np.unique does the same at twice the cost
    first[0] = True
    np.not_equal(packed[1:], packed[:-1], out=first[1:])
    return packed[first]


def intersection_sizes(mine: U64, others: Sequence[U64]) -> list[int]:
    """How many values each of `others` shares with `mine` (all sorted, unique, non-empty): one
    vectorised search of all of them at once instead of a set intersection per pair (or one
    merge per pair in C)."""
    if _kernels is not None:
        sizes: list[int] = _kernels.intersection_sizes(mine, others)
        return sizes
    flat = np.concatenate(others)
    pos = np.searchsorted(mine, flat)
    np.minimum(pos, len(mine) - 1, out=pos)
    hit = mine[pos] == flat
    starts = [0, *accumulate([len(o) for o in others[:-1]])]
    sizes = np.add.reduceat(hit, starts, dtype=np.intp).tolist()
    return sizes


def equal_bytes(sig: bytes, datas: Sequence[bytes], at: int, rows: int) -> list[int]:
    """For each of `datas`, how many of its `rows` bytes from offset `at` equal the first `rows`
    bytes of `sig`: the signature estimate of every candidate record at once (the C kernels do
    it inside `near_records`)."""
    sigs = np.frombuffer(b"".join([d[at : at + rows] for d in datas]), dtype=np.uint8)
    return (sigs.reshape(len(datas), rows) == np.frombuffer(sig[:rows], dtype=np.uint8)).sum(axis=1).tolist()


def jaccard(a: U64, b: U64) -> float:
    """Exact Jaccard similarity of two shingle sets (sorted unique arrays)."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


@dataclass(frozen=True, slots=True)
class Layout:
    """`bands` bands of `rows` consecutive signature rows, starting at row `first`."""

    bands: int
    rows: int
    first: int = 0

    @property
    def end(self) -> int:
        return self.first + self.bands * self.rows

    def collision_probability(self, j: float) -> float:
        """Chance that two texts with Jaccard `j` share at least one band of this layout."""
        return float(1 - (1 - j**self.rows) ** self.bands)


@dataclass(frozen=True, slots=True)
class LshParams:
    """MinHash over character `k`-grams: a signature of `rows` one-byte values, grouped into band
    keys by `layout`; texts of at most `short_shingles` k-grams (characters - k + 1, repeats
    counted) get `short_layout` too, from rows of their own.

    Why a second layout: a short text has few shingles, so one edited word moves its Jaccard a
    lot and near copies of short comments sit at J 0.5-0.65, where 3-row bands miss one pair in
    ten. Two-row bands catch them; on long texts they would also catch every comment on the same
    topic (J 0.2-0.3), so only short texts use them, and verifying a short text is cheap.
    """

    k: int = 5
    layout: Layout = Layout(16, 3)
    short_layout: Layout = Layout(0, 2)
    short_shingles: int = 0
    seed: int = 0x5EED

    @property
    def rows(self) -> int:
        return max(self.layout.end, self.short_layout.end)

    @property
    def max_keys(self) -> int:
        return self.layout.bands + self.short_layout.bands

    def layouts_for(self, shingle_count: int) -> tuple[Layout, ...]:
        if self.short_layout.bands and shingle_count <= self.short_shingles:
            return (self.layout, self.short_layout)
        return (self.layout,)

    def layouts_for_signature(self, length: int) -> tuple[Layout, ...]:
        """The layouts a signature of `length` rows was made for (a short text's is longer)."""
        if self.short_layout.bands and length >= self.short_layout.end > self.layout.end:
            return (self.layout, self.short_layout)
        return (self.layout,)

    def collision_probability(self, j: float, shingle_count: int | None = None) -> float:
        """Chance that two texts with Jaccard `j` share a band key (the short layout applies when
        both are short: `shingle_count` is the larger of the two)."""
        miss = 1.0
        for layout in self.layouts_for(shingle_count if shingle_count is not None else 1 << 30):
            miss *= 1 - layout.collision_probability(j)
        return 1 - miss


class MinHasher:
    """Computes signatures and band keys for one set of parameters."""

    def __init__(self, params: LshParams) -> None:
        self.params = params
        rng = np.random.default_rng(params.seed)
        # Multiply-add hash family modulo 2**32 over the high half of the (already mixed) shingle
        # hashes; odd multipliers keep each a bijection. 32-bit lanes halve the memory traffic of
        # the (shingles x rows) product, most of a signature's cost. The byte kept is bits 8-15 of
        # each minimum: its top bits are mostly zero (it is the smallest of many).
        self._a = rng.integers(1, _MASK32, size=params.rows, dtype=np.uint32, endpoint=True) | np.uint32(1)
        self._b = rng.integers(0, _MASK32, size=params.rows, dtype=np.uint32, endpoint=True)
        self._a_col, self._b_col = self._a[:, None].copy(), self._b[:, None].copy()
        # band_keys' slices by signature length, and the same as int32 triples for the C kernel
        self._plans: dict[int, tuple[list[tuple[int, int, int]], bytes]] = {}

    def signature_of(self, norm: str) -> bytes:
        """The signature of a normalised text's k-grams: `signature(shingle_hashes(norm, k))`, in
        one C pass when the kernels are built and the text is Latin-1."""
        k = min(self.params.k, len(norm))
        if _kernels is not None and 0 < k <= 8:
            try:
                raw = norm.encode("latin-1")
            except UnicodeEncodeError:
                pass
            else:
                rows = max(layout.end for layout in self.params.layouts_for(len(raw) - k + 1))
                return _kernels.signature(raw, k, self._a, self._b, rows)  # type: ignore[no-any-return]
        return self.signature(shingle_hashes(norm, self.params.k))

    def signature(self, sh: U64) -> bytes:
        """The one-byte MinHash values of a non-empty shingle hash array (repeats allowed): as
        many rows as the text's layouts use (a short text's signature is longer)."""
        rows = max(layout.end for layout in self.params.layouts_for(len(sh)))
        x = (sh >> _SHIFT32).astype(np.uint32)
        product = self._a_col[:rows] * x  # rows x shingles: each row's minimum is a contiguous pass
        product += self._b_col[:rows]
        mins = product.min(axis=1)
        return (mins >> _SHIFT8).astype(np.uint8).tobytes()

    def band_keys(self, sig: bytes) -> list[int]:
        """The band keys of a signature: band number (one byte; the short layout's bands follow
        the main ones) above the band's row bytes (24 bits for three rows), as one integer."""
        plans = self._plans.get(len(sig))
        if plans is None:
            plan = self._plan(len(sig))
            plans = self._plans[len(sig)] = (plan, np.array(plan, dtype=np.int32).tobytes())
        plan, packed = plans
        if _kernels is not None:
            keys: list[int] = _kernels.band_keys(sig, packed)
            return keys
        return [number | int.from_bytes(sig[lo:hi], "big") for number, lo, hi in plan]

    def _plan(self, length: int) -> list[tuple[int, int, int]]:
        """Each band key's number (shifted into place) and row slice, for a signature of `length`."""
        plan = []
        for layout in self.params.layouts_for_signature(length):
            for band in range(layout.bands):
                lo = layout.first + band * layout.rows
                plan.append((len(plan) << 24, lo, lo + layout.rows))
        return plan


def estimate(a: bytes, b: bytes) -> float:
    """Jaccard similarity estimated from two signatures (over the rows both have): the share of
    equal bytes, corrected for the 1/256 chance that two different minima share a low byte."""
    n = min(len(a), len(b))
    diff = int.from_bytes(a[:n], "big") ^ int.from_bytes(b[:n], "big")
    same = diff.to_bytes(n, "big").count(0)
    return max(0.0, (same / n - 1 / 256) / (1 - 1 / 256))
