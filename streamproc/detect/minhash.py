"""Character shingles, MinHash signatures and LSH band keys for near-duplicate detection.

Everything is deterministic across processes and machines (no Python `hash()`), because band keys
computed by one worker are looked up by another and kept in changelog topics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]

_MASK64 = (1 << 64) - 1
_POLY = np.uint64(0x100000001B3)  # FNV prime: odd, spreads code points over the 64 bits


def _mix(x: U64) -> U64:
    """splitmix64 finaliser: turns structured 64-bit values into well-spread ones."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def shingle_hashes(norm: str, k: int) -> U64:
    """64-bit hashes of the character k-grams of a normalised text, in text order (repeats kept:
    a minimum does not care). A text shorter than k is one shingle (itself)."""
    if not norm:
        return np.empty(0, dtype=np.uint64)
    cps = np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    m = len(cps) - k + 1
    if m <= 0:
        m, k = 1, len(cps)
    h = np.zeros(m, dtype=np.uint64)
    for j in range(k):
        h = h * _POLY + cps[j : j + m]
    return _mix(h)


def shingles(norm: str, k: int) -> U64:
    """The set of character k-grams of a normalised text as sorted unique 64-bit hashes."""
    return np.unique(shingle_hashes(norm, k))


def shingle_set(norm: str, k: int) -> set[str]:
    """The same k-grams as a set of strings: the fastest way to an exact Jaccard in Python."""
    if len(norm) <= k:
        return {norm} if norm else set()
    return {norm[i : i + k] for i in range(len(norm) - k + 1)}


def jaccard_sets(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def jaccard(a: U64, b: U64) -> float:
    """Exact Jaccard similarity of two shingle sets (sorted unique arrays)."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


@dataclass(frozen=True, slots=True)
class LshParams:
    """MinHash with `bands` x `rows` hash functions over character `k`-grams.

    Two texts with Jaccard similarity J share at least one band key with probability
    1 - (1 - J**rows)**bands; candidates are then verified with the exact Jaccard.
    """

    k: int = 4
    bands: int = 20
    rows: int = 3
    seed: int = 0x5EED

    @property
    def hashes(self) -> int:
        return self.bands * self.rows

    def collision_probability(self, j: float) -> float:
        return float(1 - (1 - j**self.rows) ** self.bands)


class MinHasher:
    """Computes MinHash signatures and band keys for one set of parameters."""

    def __init__(self, params: LshParams) -> None:
        self.params = params
        rng = np.random.default_rng(params.seed)
        # Multiply-add hash family modulo 2**64; odd multipliers keep it a bijection.
        self._a = rng.integers(1, _MASK64, size=params.hashes, dtype=np.uint64, endpoint=True) | np.uint64(1)
        self._b = rng.integers(0, _MASK64, size=params.hashes, dtype=np.uint64, endpoint=True)
        self._band_salt = _mix(np.arange(1, params.bands + 1, dtype=np.uint64))

    def signature(self, sh: U64) -> U64:
        """MinHash signature (bands * rows values) of a non-empty shingle set."""
        return (sh[:, None] * self._a[None, :] + self._b[None, :]).min(axis=0)  # type: ignore[no-any-return]

    def band_keys(self, sh: U64) -> list[str]:
        """One key per band: the band's index and a 64-bit hash of its rows (`sh` from
        `shingle_hashes` or `shingles`: repeats do not change a minimum)."""
        if len(sh) == 0:
            return []
        p = self.params
        sig = self.signature(sh).reshape(p.bands, p.rows)
        h = self._band_salt.copy()
        for j in range(p.rows):
            h = _mix(h * _POLY + sig[:, j])
        return [f"b{i:02x}{v:016x}" for i, v in enumerate(h.tolist())]
