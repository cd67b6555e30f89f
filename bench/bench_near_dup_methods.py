"""MinHash LSH banding against SimHash block permutations for near-duplicate candidates on short
comments: the written comparison behind the duplicates stage's choice of MinHash (16 bands x 3 rows).

    .venv/bin/python bench/bench_near_dup_methods.py            # 20,000 comments
    .venv/bin/python bench/bench_near_dup_methods.py 5000       # a smaller corpus
    .venv/bin/python bench/bench_near_dup_methods.py 20000 short   # real-like short comments

Corpus: streamproc.gen.near_dups (seed 7, as tests/quality/test_duplicates_quality.py). Each comment
is normalised as the stage does it and cut into character 5-gram shingles. Ground truth: every pair
of non-empty comments with exact shingle Jaccard >= 0.5 (AllPairs, copied from the quality test).

Both methods are measured as the stage would use them: each comment gets a few index keys (the exact
fingerprint plus the method's keys; every key is a changelog write per comment), a comment's
candidates are the distinct earlier comments sharing at least one key (each is an exact Jaccard
verification), and a true pair is found when its two comments share a key. Figures per config:
keys/comment, recall of true pairs (all, and J in [0.5, 0.6)), mean candidates/comment. The index
is unbounded here (the stage caps each key at MAX_PER_KEY comments; that caps candidates, not keys).

MinHash: streamproc.detect.minhash.MinHasher (one-byte rows, as the stage keeps them), k=5, for
several (bands, rows); a band's key is its row bytes.
SimHash: 64 bits, unweighted sum over the same shingle hashes (one vote per distinct shingle, as
Jaccard counts them). First the Hamming distance of true pairs by Jaccard bucket against random
non-pairs; then the block index for radius r: the 64 bits in r+1 blocks, one key per block, so every
pair within distance r shares a key (pigeonhole). Not a test: it prints figures.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streamproc.detect.duplicates import MAX_DOC_CHARS, MIN_CHARS, THRESHOLD, is_empty
from streamproc.detect.minhash import Layout, LshParams, MinHasher, shingles
from streamproc.detect.text import normalise_duplicate
from streamproc.gen import near_dups, short_comments
from streamproc.gen.allpairs import exact_pairs

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

K = 5
SEED = 7
MINHASH_CONFIGS = [(8, 2), (12, 2), (12, 3), (16, 3), (20, 3), (20, 4), (32, 4)]
SIMHASH_RADII = [3, 6, 10, 14, 18, 22]
J_BUCKETS = [(0.5, 0.6), (0.6, 0.8), (0.8, 1.0001)]
RANDOM_NON_PAIRS = 200_000
TARGET_RECALL = 0.95


@dataclass(frozen=True, slots=True)
class Truth:
    """The true pairs (i < j, indexes into the live comments) and their exact Jaccard."""

    a: I64
    b: I64
    jac: npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    keys: int
    recall: float
    recall_low: float  # J in [0.5, 0.6)
    candidates: float


# --- corpus and ground truth ---------------------------------------------------------------------


def load_corpus(n: int, corpus: str = "long") -> tuple[list[str], list[U64]]:
    """Normalised text and shingle set of every non-empty comment, in stream order."""
    norms, sets = [], []
    events = (
        near_dups.generate(n, seed=SEED).events if corpus == "long" else short_comments.generate(n).events
    )
    for e in events:
        norm = normalise_duplicate(e["text"])[:MAX_DOC_CHARS]
        if is_empty(e["text"]) or len(norm) < MIN_CHARS:
            continue
        norms.append(norm)
        sets.append(shingles(norm, K))
    return norms, sets


def exact_truth(sets: list[U64], t: float) -> Truth:
    """Every pair with Jaccard >= t, exactly (streamproc.gen.allpairs, as the quality test)."""
    pairs = exact_pairs(sets, t)
    items = sorted(pairs.items())
    return Truth(
        np.array([p[0] for p, _ in items], dtype=np.int64),
        np.array([p[1] for p, _ in items], dtype=np.int64),
        np.array([v for _, v in items], dtype=np.float64),
    )


# --- the index, whatever the keys ----------------------------------------------------------------


def fingerprint_column(norms: list[str]) -> U64:
    """The stage's exact-duplicate key as a number (one column of the key matrix)."""
    return np.array(
        [int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big") for s in norms],
        dtype=np.uint64,
    )


def mean_candidates(keys: U64) -> float:
    """Mean number of distinct earlier comments sharing at least one key with a comment, over the
    corpus in stream order. `keys` is (comments x key slots); a key is (slot, value)."""
    n, slots = keys.shape
    sorted_docs, start, before = [], np.empty((n, slots), np.int64), np.empty((n, slots), np.int64)
    for c in range(slots):
        order = np.argsort(keys[:, c], kind="stable")  # within a value, earlier comments first
        vals = keys[order, c]
        first = np.concatenate([[True], vals[1:] != vals[:-1]])
        group_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
        sorted_docs.append(order)
        start[order, c] = group_start
        before[order, c] = np.arange(n) - group_start
    seen = np.zeros(n, dtype=bool)
    total = 0
    for i in range(n):
        parts = [sorted_docs[c][start[i, c] : start[i, c] + before[i, c]] for c in range(slots)]
        hit = np.concatenate(parts)
        if len(hit):
            seen[hit] = True
            total += int(np.count_nonzero(seen))
            seen[hit] = False
    return total / n


def evaluate(name: str, keys: U64, truth: Truth) -> Result:
    shared = (keys[truth.a] == keys[truth.b]).any(axis=1)
    low = (truth.jac >= J_BUCKETS[0][0]) & (truth.jac < J_BUCKETS[0][1])
    return Result(name, keys.shape[1], float(shared.mean()), float(shared[low].mean()), mean_candidates(keys))


# --- MinHash -------------------------------------------------------------------------------------


def minhash_keys(sets: list[U64], bands: int, rows: int) -> U64:
    """The band keys of every comment: each band's row bytes as one number."""
    hasher = MinHasher(LshParams(k=K, layout=Layout(bands, rows)))
    weights = np.array([1 << (8 * (rows - 1 - j)) for j in range(rows)], dtype=np.uint64)
    sigs = np.array([list(hasher.signature(s)) for s in sets], dtype=np.uint64)
    return (sigs.reshape(len(sets), bands, rows) * weights).sum(axis=2, dtype=np.uint64)


# --- SimHash -------------------------------------------------------------------------------------


def simhashes(sets: list[U64], chunk: int = 2000) -> U64:
    """64-bit SimHash of each shingle set: bit b is set when most shingle hashes have bit b set."""
    out = np.empty(len(sets), dtype=np.uint64)
    weights = np.uint64(1) << np.arange(64, dtype=np.uint64)
    for lo in range(0, len(sets), chunk):
        part = sets[lo : lo + chunk]
        lens = np.array([len(s) for s in part], dtype=np.int64)
        flat = np.concatenate(part)
        bits = np.unpackbits(flat.view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")
        bits = bits.reshape(-1, 64)  # little-endian uint64: column b is bit b
        ones = np.add.reduceat(bits.astype(np.int32), np.concatenate([[0], np.cumsum(lens)[:-1]]), axis=0)
        majority = (2 * ones > lens[:, None]).astype(np.uint64)
        out[lo : lo + chunk] = (majority * weights).sum(axis=1, dtype=np.uint64)
    return out


def hamming(x: U64, y: U64) -> I64:
    return np.bitwise_count(x ^ y).astype(np.int64)


def block_keys(sh: U64, radius: int) -> U64:
    """The SimHash cut into radius+1 contiguous blocks (widths differing by at most one bit)."""
    blocks = radius + 1
    widths = [64 // blocks + (1 if b < 64 % blocks else 0) for b in range(blocks)]
    cols, shift = [], 0
    for w in widths:
        cols.append((sh >> np.uint64(shift)) & np.uint64((1 << w) - 1))
        shift += w
    return np.stack(cols, axis=1)


def random_non_pairs(n: int, truth: Truth, count: int, rng: np.random.Generator) -> tuple[I64, I64]:
    a = rng.integers(0, n, size=count)
    b = rng.integers(0, n, size=count)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    true_codes = truth.a * n + truth.b
    keep = (lo != hi) & ~np.isin(lo * n + hi, true_codes)
    return lo[keep], hi[keep]


def print_distances(sh: U64, truth: Truth, radii: Sequence[int]) -> None:
    rng = np.random.default_rng(SEED)
    rows: list[tuple[str, I64]] = []
    for lo, hi in J_BUCKETS:
        sel = (truth.jac >= lo) & (truth.jac < hi)
        rows.append((f"true J {lo:.1f}-{min(hi, 1.0):.1f}", hamming(sh[truth.a[sel]], sh[truth.b[sel]])))
    rows.append(("true, all", hamming(sh[truth.a], sh[truth.b])))
    a, b = random_non_pairs(len(sh), truth, RANDOM_NON_PAIRS, rng)
    rows.append(("random non-pairs", hamming(sh[a], sh[b])))
    within = "  ".join(f"<={r:<2d}" for r in radii)
    print(f"  {'pairs':<18} {'count':>7}  {'p5':>3} {'p25':>3} {'p50':>3} {'p75':>3} {'p95':>3}   {within}")
    for name, d in rows:
        pct = " ".join(f"{int(np.percentile(d, q)):>3d}" for q in (5, 25, 50, 75, 95))
        cum = "  ".join(f"{(d <= r).mean():4.2f}" for r in radii)
        print(f"  {name:<18} {len(d):>7}  {pct}   {cum}")


# --- report --------------------------------------------------------------------------------------


def print_results(results: list[Result], extra: dict[str, float] | None = None) -> None:
    head = f"  {'config':<14} {'keys/comment':>12} {'recall':>7} {'recall J<0.6':>12} {'cands/comment':>13}"
    print(head + ("  within r" if extra else ""))
    for r in results:
        line = f"  {r.name:<14} {r.keys:>12d} {r.recall:>7.4f} {r.recall_low:>12.4f} {r.candidates:>13.1f}"
        print(line + (f"  {extra[r.name]:8.4f}" if extra else ""))


def reaching(results: list[Result]) -> list[Result]:
    return [r for r in results if r.recall >= TARGET_RECALL]


def describe(r: Result) -> str:
    return (
        f"{r.name} ({r.keys} keys, {r.candidates:.1f} cands, recall {r.recall:.4f}, J<0.6 {r.recall_low:.4f})"
    )


def summary(method: str, results: list[Result]) -> str:
    """The configs reaching TARGET_RECALL with the fewest keys and with the fewest candidates."""
    ok = reaching(results)
    if not ok:
        top = max(results, key=lambda r: r.recall)
        return (
            f"  {method:<8} cannot reach {TARGET_RECALL} recall with the configs tried (best {describe(top)})"
        )
    by_keys = min(ok, key=lambda r: (r.keys, r.candidates))
    by_cands = min(ok, key=lambda r: (r.candidates, r.keys))
    if by_keys is by_cands:
        return f"  {method:<8} fewest keys and candidates: {describe(by_keys)}"
    return f"  {method:<8} fewest keys: {describe(by_keys)}; fewest candidates: {describe(by_cands)}"


def main(n: int, corpus: str = "long") -> None:
    started = time.perf_counter()
    norms, sets = load_corpus(n, corpus)
    lengths = np.array([len(s) for s in norms])
    truth = exact_truth(sets, THRESHOLD)
    print(
        f"{n} comments, {len(sets)} non-empty (normalised length: median {int(np.median(lengths))}, "
        f"p90 {int(np.percentile(lengths, 90))}, {(lengths < 300).mean():.0%} under 300 chars); "
        f"{len(truth.a)} true pairs at 5-gram Jaccard >= {THRESHOLD} "
        f"({time.perf_counter() - started:.0f} s for corpus and ground truth)"
    )
    print(
        "keys/comment include the exact fingerprint key; candidates: distinct earlier comments sharing a key"
    )
    fp = fingerprint_column(norms)[:, None]

    print("\nMinHash LSH, bands x rows (k=5; the stage ships 16x3, plus 12x2 on texts under ~52 characters):")
    mh = [
        evaluate(f"{bands}x{rows}", np.hstack([fp, minhash_keys(sets, bands, rows)]), truth)
        for bands, rows in MINHASH_CONFIGS
    ]
    print_results(mh)

    sh = simhashes(sets)
    print("\nSimHash (64-bit, unweighted over distinct 5-gram hashes): Hamming distance percentiles and")
    print("share of pairs within distance r:")
    print_distances(sh, truth, SIMHASH_RADII)

    print(
        "\nSimHash block index, radius r (r+1 blocks, one key each; 'within r': true pairs at distance <= r):"
    )
    dist = hamming(sh[truth.a], sh[truth.b])
    sim = [evaluate(f"r={r}", np.hstack([fp, block_keys(sh, r)]), truth) for r in SIMHASH_RADII]
    print_results(sim, {f"r={r}": float((dist <= r).mean()) for r in SIMHASH_RADII})

    print(f"\nBest configs per method at recall >= {TARGET_RECALL}:")
    print(summary("MinHash", mh))
    print(summary("SimHash", sim))
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000, sys.argv[2] if len(sys.argv) > 2 else "long")
