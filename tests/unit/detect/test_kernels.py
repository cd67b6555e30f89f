"""The C kernels (streamproc/detect/_kernels.c) give what the numpy code gives, bit for bit: the
signatures and shingles they compute are kept in changelogs and compared across workers, so a
worker built without a compiler must agree with one built with it. The spam model's n-gram
weights agree to rounding."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamproc.detect import duplicates, minhash, native, ngrams
from streamproc.detect import text as text_module
from streamproc.detect.duplicates import DuplicateConfig, DuplicateShard, probe
from streamproc.detect.minhash import LshParams, MinHasher, shingle_hashes

kernels = native.C

# Latin-1 texts as normalising leaves them (and some it does not: the kernels take any bytes).
latin1 = st.text(st.characters(min_codepoint=32, max_codepoint=255), min_size=1, max_size=400)
words = st.lists(st.sampled_from(["tram", "line", "late", "again", "city", "vote", "budget"]), max_size=60)


def test_the_kernels_are_built() -> None:
    """The install builds them (setup.py); without a compiler it goes on, and this says so."""
    assert kernels is not None, "streamproc.detect._kernels is not built: is a C compiler installed?"
    assert native.kernels() == "c"


@contextmanager
def numpy_only() -> Iterator[None]:
    """The numpy and Python code, as an install without a C compiler runs it."""
    modules = (minhash, ngrams, duplicates, text_module)
    saved = [m._kernels for m in modules]
    for m in modules:
        m._kernels = None
    try:
        yield
    finally:
        for m, k in zip(modules, saved, strict=True):
            m._kernels = k


@settings(max_examples=300, deadline=None)
@given(text=latin1, k=st.integers(1, 8))
def test_signature_equals_numpy(text: str, k: int) -> None:
    hasher = MinHasher(LshParams(k=k, short_shingles=48))
    numpy_sig = hasher.signature(shingle_hashes(text, k))
    assert hasher.signature_of(text) == numpy_sig
    assert len(numpy_sig) in (hasher.params.layout.end, hasher.params.rows)


@settings(max_examples=300, deadline=None)
@given(text=latin1, k=st.integers(1, 7))
def test_exact_shingles_equal_numpy(text: str, k: int) -> None:
    built = minhash.exact_shingles(text, k)
    with numpy_only():
        expected = minhash.exact_shingles(text, k)
    assert built is not None and expected is not None
    assert built.dtype == expected.dtype and built.tolist() == expected.tolist()


@settings(max_examples=200, deadline=None)
@given(mine=words, others=st.lists(words, min_size=1, max_size=8), k=st.integers(2, 7))
def test_intersection_sizes_equal_numpy(mine: list[str], others: list[str], k: int) -> None:
    arrays = [minhash.exact_shingles(" ".join(w) or "x", k) for w in [mine, *others]]
    assert all(a is not None for a in arrays)
    head, rest = arrays[0], arrays[1:]
    built = minhash.intersection_sizes(head, rest)  # type: ignore[arg-type]
    with numpy_only():
        assert built == minhash.intersection_sizes(head, rest)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    sig=st.binary(min_size=48, max_size=72),
    records=st.dictionaries(st.integers(0, 60), st.binary(min_size=80, max_size=120), max_size=40),
    postings=st.lists(st.none() | st.lists(st.integers(0, 80), max_size=12), max_size=16),
    floor=st.floats(0, 49),
)
def test_near_records_equal_numpy(
    sig: bytes, records: dict[int, bytes], postings: list[list[int] | None], floor: float
) -> None:
    """The index's candidates: each arrival number once, gone ones (no record) skipped, only those
    whose estimate reaches the floor, with their equal-byte counts."""
    store = {seq.to_bytes(4, "big"): data for seq, data in records.items()}
    packed = [None if p is None else b"".join(s.to_bytes(4, "big") for s in p) for p in postings]
    built = duplicates._near_records(sig, packed, store.get, 48, floor)
    with numpy_only():
        expected = duplicates._near_records(sig, packed, store.get, 48, floor)
    assert sorted(built) == sorted(expected)
    at = duplicates._SIG_AT
    wanted = {s.to_bytes(4, "big") for p in postings if p for s in p} & store.keys()
    counts = [
        (store[k], sum(a == b for a, b in zip(store[k][at : at + 48], sig[:48], strict=True))) for k in wanted
    ]
    assert sorted(built) == sorted((data, n) for data, n in counts if n >= floor)


@settings(max_examples=300, deadline=None)
@given(text=latin1)
def test_band_keys_equal_python(text: str) -> None:
    """Long and short texts: a short text's signature has the short layout's bands too."""
    hasher = DuplicateConfig().hasher
    sig = hasher.signature_of(text)
    built = hasher.band_keys(sig)
    with numpy_only():
        assert built == hasher.band_keys(sig)


@settings(max_examples=500, deadline=None)
@given(
    raw=st.text(st.characters(max_codepoint=127), max_size=200)
    | st.lists(
        st.sampled_from(["a", "aa", "ooo", "Z", "_", "1", " ", "\t", "!", "..", "x"]), max_size=60
    ).map("".join)
)
def test_ascii_words_equal_python(raw: str) -> None:
    built = text_module.ascii_words(raw)
    with numpy_only():
        assert built == text_module.ascii_words(raw)


@settings(max_examples=300, deadline=None)
@given(low=st.text(max_size=300))
def test_char_features_equal_numpy(low: str) -> None:
    """The spam model's n-grams: the same hashes; weights equal to rounding (numpy's log and dot
    product round their own way)."""
    hashes, values = ngrams.char_features(low)
    with numpy_only():
        expected_hashes, expected_values = ngrams.char_features(low)
    assert hashes.tolist() == expected_hashes.tolist()
    np.testing.assert_allclose(values, expected_values, rtol=1e-12, atol=0)


def test_bad_arguments_raise_not_crash() -> None:
    assert kernels is not None
    with pytest.raises(ValueError):
        kernels.signature(b"ab", 3, np.ones(4, np.uint32), np.ones(4, np.uint32), 4)  # shorter than k
    with pytest.raises(ValueError):
        kernels.signature(b"abcdef", 3, np.ones(2, np.uint32), np.ones(2, np.uint32), 4)  # too few rows
    with pytest.raises(ValueError):
        kernels.exact_shingles(b"abcdef", 8)
    with pytest.raises(ValueError):
        kernels.near_records(b"abc", [b"\x00\x00\x00\x01"], {}.get, 0, 4, 1.0)  # signature shorter than rows
    with pytest.raises(TypeError):
        kernels.intersection_sizes(np.zeros(2, np.uint64), [object()])
    with pytest.raises(ValueError):
        kernels.char_features("spam", 3, 2)
    with pytest.raises(ValueError):
        kernels.ascii_words("café")
    with pytest.raises(ValueError):
        kernels.band_keys(b"abc", np.array([0, 2, 4], np.int32).tobytes())  # past the signature's end
    with pytest.raises(ValueError):
        kernels.band_keys(b"abc", b"\x00" * 5)
    with pytest.raises(ValueError):
        kernels.near_records(b"abcd", [b"\x00\x00\x01"], {}.get, 0, 4, 1.0)  # not whole uint32s
    with pytest.raises(ValueError):
        kernels.near_records(b"abcd", [b"\x00\x00\x00\x01"], {b"\x00\x00\x00\x01": b"ab"}.get, 0, 4, 1.0)
    with pytest.raises(ZeroDivisionError):  # an error in the store's get comes through
        kernels.near_records(b"abcd", [b"\x00\x00\x00\x01"], lambda key: 1 / 0, 0, 4, 1.0)


def test_a_shard_finds_the_same_matches_without_the_kernels() -> None:
    """End to end through the core: the same texts give the same probes and matches either way."""
    texts = [
        "The new tram line runs late every single morning, and nobody at the city answers.",
        "The new tram line runs late every single evening, and nobody at the city answers.",
        "the NEW tram line runs late every single morning, and nobody at the city answers!!",
        "Completely different: the budget vote moved to Thursday after the council met.",
        "ok",
    ]

    def run() -> list[tuple[bytes, list[tuple[str, float]]]]:
        config = DuplicateConfig()
        shard = DuplicateShard(config, 0, {}, {})
        out = []
        for i, text in enumerate(texts):
            p = probe(config, f"c{i}", "a", "t", float(i), text)
            if p is None:
                continue
            matches = shard.match_and_index(p, p.keys)
            out.append((p.sig, [(m.sighting.comment_id, m.similarity) for m in matches]))
        return out

    built = run()
    with numpy_only():
        assert run() == built
    assert [len(m) for _, m in built] == [0, 1, 2, 0]
