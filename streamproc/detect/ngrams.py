"""Hashed text features of the spam model: character n-grams (hashed with numpy, a few array
operations per comment), words and word pairs, and the tokens of the linked URLs.

Counts are weighted sublinearly (1 + log count: a word said five times is not five times the
evidence) and each group is scaled to unit length, so long comments do not dominate. Names are
kept for words, pairs and URL tokens (the model explains itself with them); character n-grams
are only hashes. Pure: no Kafka, no clock.
"""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from streamproc.detect.native import C as _kernels

CHAR_ORDERS = (2, 3, 4, 5)  # character n-gram lengths: spelling, word pieces and short phrases
_MULT = np.uint64(0x100000001B3)  # FNV-64 prime: the rolling multiplier of the n-gram hash
_MIX = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio constant: spreads hashes over the high bits
_SHIFT32 = np.uint64(32)
_DIGITS = re.compile(r"\d")
_ANY_DIGIT = _DIGITS
_WORD = re.compile(r"[^\W_]+")
_URL_TOKEN = re.compile(r"[a-z][a-z0-9]{2,}")

Hashes = npt.NDArray[np.uint32]
Values = npt.NDArray[np.float64]


# Written URLs leave the text: their characters ("http", "www.", ".com/") mostly say "a link
# is here", which means spam under a video and a citation under an article. The link stage's
# domains and path words (url_features) and the link signals carry what a link says.
_BARE_URL = re.compile(r"[^/\s]+\.(?:com|net|org|info|ly|be|co)(?:/|$|[.,!?;:)]*$)")


def _is_url(token: str) -> bool:
    return "://" in token or token.startswith("www.") or ("." in token and _BARE_URL.match(token) is not None)


def normalise(text: str) -> str:
    """Case-folded, URLs dropped, digits as 0 (the shape of a number, not its value), spaces
    squashed."""
    tokens = text.casefold().split()
    low = " ".join([t for t in tokens if not _is_url(t)] if "." in text else tokens)
    return _DIGITS.sub("0", low) if _ANY_DIGIT.search(low) else low


def char_hashes(low: str) -> Hashes:
    """32-bit hashes of every character n-gram of `low` padded with spaces (repeats kept).

    A rolling polynomial per length, mixed once at the end: n-grams of different lengths differ
    in the polynomial already. Few numpy calls: their overhead, not the arithmetic, is the cost.
    """
    codes = np.frombuffer(f" {low} ".encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    parts = []
    acc = codes
    with np.errstate(over="ignore"):  # the hash wraps around on purpose
        for n in range(2, CHAR_ORDERS[-1] + 1):
            if len(acc) < 2:
                break
            acc = acc[:-1] * _MULT + codes[n - 1 :]
            if n >= CHAR_ORDERS[0]:
                parts.append(acc)
        if not parts:
            return np.zeros(0, dtype=np.uint32)
        mixed = np.concatenate(parts) * _MIX
    return (mixed >> _SHIFT32).astype(np.uint32)


def sublinear(hashes: Hashes) -> tuple[Hashes, Values]:
    """Distinct hashes with 1 + log(count), scaled to unit length (sort and compare: cheaper
    than np.unique for a few hundred values)."""
    n = len(hashes)
    if not n:
        return hashes, np.zeros(0)
    h = np.sort(hashes)
    first = np.empty(n, dtype=bool)
    first[0] = True
    np.not_equal(h[1:], h[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    uniq = h[starts]
    if len(uniq) == n:  # the common case: every n-gram once
        return uniq, np.full(n, 1.0 / np.sqrt(n))
    counts = np.empty(len(starts))
    counts[:-1] = starts[1:] - starts[:-1]
    counts[-1] = n - starts[-1]
    values = 1.0 + np.log(counts)
    values /= np.sqrt(values @ values)
    return uniq, values


def char_features(low: str) -> tuple[Hashes, Values]:
    """`sublinear(char_hashes(low))`, in one C pass when the kernels are built (the weights can
    differ from numpy's in the last bits of a float: numpy's log and dot product round their own
    way)."""
    if _kernels is None:
        return sublinear(char_hashes(low))
    hashes, values = _kernels.char_features(low, CHAR_ORDERS[0], CHAR_ORDERS[-1])
    return np.frombuffer(hashes, dtype=np.uint32), np.frombuffer(values, dtype=np.float64)


def _named(names: list[str]) -> tuple[list[str], list[float]]:
    if not names:
        return [], []
    if len(set(names)) == len(names):  # the common case, and a set is cheaper than a Counter
        v = 1.0 / math.sqrt(len(names))
        return names, [v] * len(names)
    counts = Counter(names)
    values = [1.0 + math.log(c) for c in counts.values()]
    norm = math.sqrt(sum(v * v for v in values))
    return list(counts), [v / norm for v in values]


def word_features(low: str) -> tuple[list[str], list[float]]:
    """Words and word pairs of normalised text, sublinear and unit-scaled together."""
    words = _WORD.findall(low)
    names = ["w:" + w for w in words]
    names += [f"b:{a} {b}" for a, b in itertools.pairwise(words)]
    return _named(names)


def url_features(links: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[float]]:
    """The linked registrable domains, hosts and the words in their paths, unit-scaled: a model
    can learn that a channel page or a giveaway host is spam wherever it shows up."""
    names: list[str] = []
    for link in links:
        domain, host, url = str(link.get("domain", "")), str(link.get("host", "")), str(link.get("url", ""))
        if domain:
            names.append(f"u:d:{domain}")
        if host and host != domain:
            names.append(f"u:h:{host}")
        path = url.split("//", 1)[-1].partition("/")[2].lower()
        names.extend(f"u:t:{t}" for t in _URL_TOKEN.findall(path)[:8])
    return _named(names)


def name_hash(name: str) -> int:
    """Stable across processes (Python's hash() is salted per process)."""
    return zlib.crc32(name.encode())
