"""Near-duplicate quality against an exact all-pairs Jaccard over the same 5-gram shingles, on two
generated corpora: long edited comments (streamproc.gen.near_dups) and real-like short comments
and messages (streamproc.gen.short_comments). Run with -s to see the figures.

Sizes: CI runs reduced corpora (each test well under a minute); STREAMPROC_QUALITY_FULL=1 runs the
full sizes that docs/duplicates.md quotes (20,000 comments each).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from streamproc.detect.duplicates import (
    MAX_DOC_CHARS,
    DuplicateConfig,
    Probe,
    is_empty,
    offline_shard,
    probe,
)
from streamproc.detect.minhash import shingles
from streamproc.detect.text import normalise_duplicate
from streamproc.events import parse_time
from streamproc.gen import near_dups, short_comments
from streamproc.gen.allpairs import exact_pairs

FULL = os.environ.get("STREAMPROC_QUALITY_FULL") == "1"
LONG_COMMENTS = 20_000 if FULL else 8_000
SHORT_COMMENTS = 20_000 if FULL else 8_000
Pair = tuple[int, int]


def test_exact_pairs_matches_brute_force() -> None:
    """The ground truth itself, against the obvious quadratic loop on a small sample."""
    corpus = near_dups.generate(600, seed=3)
    k = DuplicateConfig().params.k
    sets = [shingles(normalise_duplicate(e["text"]), k) for e in corpus.events]
    got = exact_pairs(sets, 0.5)
    want = {}
    py = [set(s.tolist()) for s in sets]
    for i in range(len(py)):
        for j in range(i):
            if py[i] and py[j]:
                jac = len(py[i] & py[j]) / len(py[i] | py[j])
                if jac >= 0.5:
                    want[(j, i)] = jac
    assert want, "the sample has near-duplicates"
    assert set(got) == set(want)


def _stage(events: list[dict[str, Any]], config: DuplicateConfig) -> tuple[set[Pair], dict[int, Probe]]:
    """Every (earlier, later) pair the stage reports, and each comment's probe."""
    row = {e["id"]: i for i, e in enumerate(events)}
    shard = offline_shard(config)
    found: set[Pair] = set()
    probes: dict[int, Probe] = {}
    for i, e in enumerate(events):
        if is_empty(e["text"]):
            continue
        p = probe(
            config, e["id"], e["author"]["id"], e["thread_id"], parse_time(e["posted_at"], "t"), e["text"]
        )
        if p is None:
            continue
        probes[i] = p
        for m in shard.match_and_index(p, p.keys):
            found.add((row[m.sighting.comment_id], i))
    return found, probes


def _truth(
    events: list[dict[str, Any]], probes: dict[int, Probe], view: Callable[[str], str], t: float
) -> dict[Pair, float]:
    """Exact all-pairs Jaccard >= t over the 5-grams of `view(text)`, among comments the stage
    compares (empty and junk comments are flagged, never clustered)."""
    k = DuplicateConfig().params.k
    sets = [
        shingles(view(e["text"])[:MAX_DOC_CHARS], k) if i in probes else np.empty(0, dtype=np.uint64)
        for i, e in enumerate(events)
    ]
    return exact_pairs(sets, t)


def _scores(found: set[Pair], truth: dict[Pair, float]) -> tuple[float, float]:
    hit = len(found & truth.keys())
    return hit / max(1, len(truth)), hit / max(1, len(found))


def _comment_scores(found: set[Pair], truth: dict[Pair, float]) -> tuple[float, float]:
    """Per comment, as the verdict reads: flagged when any match is reported, a duplicate when any
    earlier comment reaches the threshold."""
    flagged, dups = {b for _, b in found}, {b for _, b in truth}
    return len(flagged & dups) / max(1, len(dups)), len(flagged & dups) / max(1, len(flagged))


@pytest.mark.slow
def test_long_comments_recall_and_precision_against_all_pairs() -> None:
    config = DuplicateConfig()
    events = near_dups.generate(LONG_COMMENTS, seed=7).events
    started = time.perf_counter()
    found, probes = _stage(events, config)
    stage_seconds = time.perf_counter() - started
    truth = _truth(events, probes, normalise_duplicate, config.threshold)
    recall, precision = _scores(found, truth)
    print(
        f"\nlong comments: {LONG_COMMENTS} at Jaccard >= {config.threshold}: exact pairs {len(truth)}, "
        f"stage pairs {len(found)}, recall {recall:.4f}, precision {precision:.4f} (stage {stage_seconds:.1f} s)"
    )
    assert len(truth) > LONG_COMMENTS // 4, "the corpus has too few near-duplicate pairs to measure"
    assert recall >= 0.99
    assert precision >= 0.99


def _band_recall(
    truth: dict[Pair, float], probes: dict[int, Probe], lo: float, hi: float, config: DuplicateConfig
) -> tuple[int, float, float]:
    """Pairs at lo <= J < hi: how many, the share sharing an index key, and the share predicted."""
    pairs = [(a, b) for (a, b), j in truth.items() if lo <= j < hi]
    shared = sum(bool(set(probes[a].keys) & set(probes[b].keys)) for a, b in pairs)
    main = config.params.layout.end  # a longer signature: the text also has the short layout
    predicted = sum(
        config.params.collision_probability(
            j, 0 if min(len(probes[a].sig), len(probes[b].sig)) > main else None
        )
        for (a, b), j in truth.items()
        if lo <= j < hi
    )
    return len(pairs), shared / max(1, len(pairs)), predicted / max(1, len(pairs))


@pytest.mark.slow
def test_short_real_like_comments() -> None:
    """Short, informal, repeated with small edits, link-only comments to different pages of one site:
    band-key recall meets the prediction, and the verdicts hold against two ground truths, the
    stage's own normalisation and a reader's (whole links, letters as typed)."""
    config = DuplicateConfig()
    corpus = short_comments.generate(SHORT_COMMENTS, seed=11)
    events = corpus.events
    found, probes = _stage(events, config)
    own = _truth(events, probes, normalise_duplicate, config.threshold)
    reader = _truth(events, probes, short_comments.reader_text, config.threshold)
    lengths = [len(normalise_duplicate(events[i]["text"])) for i in probes]
    print(
        f"\nshort comments: {SHORT_COMMENTS}, normalised length median {int(np.median(lengths))}, p90 {int(np.percentile(lengths, 90))}"
    )
    for name, truth in (("own normalisation", own), ("reader's view", reader)):
        r, p = _comment_scores(found, truth)
        pr, pp = _scores(found, truth)
        print(
            f"  vs {name}: comments R {r:.4f} P {p:.4f} ({len({b for _, b in truth})} with an earlier pair); "
            f"pairs R {pr:.4f} P {pp:.4f} ({len(truth)} pairs; big clusters pass MAX_MATCHES)"
        )
    rows = []
    for lo, hi in ((0.5, 0.6), (0.6, 0.7), (0.7, 1.01)):
        count, measured, predicted = _band_recall(own, probes, lo, hi, config)
        rows.append((count, measured, predicted))
        print(
            f"  band-key recall J {lo:.1f}-{min(hi, 1.0):.1f}: {measured:.4f} over {count} pairs, predicted {predicted:.4f}"
        )
    exact_links = [
        (a, b)
        for a, b in found
        if corpus.kind[events[a]["id"]] == corpus.kind[events[b]["id"]] == "link_only"
        and short_comments.reader_text(events[a]["text"]) != short_comments.reader_text(events[b]["text"])
        and probes[a].text == probes[b].text
    ]
    print(f"  link-only comments to different pages reported as the same text: {len(exact_links)}")

    r, p = _comment_scores(found, reader)
    assert r >= 0.98 and p >= 0.97  # issue 12's targets, on the reader's view
    r, p = _comment_scores(found, own)
    assert r >= 0.98 and p >= 0.999  # against its own normalisation only the index can miss
    count, measured, predicted = rows[0]
    assert count > 500, "too few pairs at J 0.5-0.6 to measure band recall"
    sd = math.sqrt(predicted * (1 - predicted) / count)
    assert measured >= predicted - 4 * sd  # band recall meets the prediction
    assert measured > config.params.layout.collision_probability(0.55)  # better than 16x3 alone
    assert not exact_links
