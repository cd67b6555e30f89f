"""Near-duplicate quality: the stage core's pairs against an exact all-pairs Jaccard computation on
the same 5-gram shingles, over 20,000 generated comments (streamproc.gen.near_dups)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from streamproc.detect.duplicates import (
    MAX_DOC_CHARS,
    DuplicateConfig,
    is_empty,
    match_and_index,
    probe,
)
from streamproc.detect.minhash import shingles
from streamproc.detect.text import normalise_duplicate
from streamproc.events import parse_time
from streamproc.gen.allpairs import exact_pairs
from streamproc.gen.near_dups import generate

COMMENTS = 20_000
MIN_RECALL = 0.95
MIN_PRECISION = 0.95


def test_exact_pairs_matches_brute_force() -> None:
    """The ground truth itself, against the obvious quadratic loop on a small sample."""
    corpus = generate(600, seed=3)
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


@pytest.mark.slow
def test_near_duplicate_recall_and_precision() -> None:
    config = DuplicateConfig()
    corpus = generate(COMMENTS, seed=7)
    events = corpus.events
    row = {e["id"]: i for i, e in enumerate(events)}

    started = time.perf_counter()
    index: dict[str, object] = {}
    found: set[tuple[int, int]] = set()
    for i, e in enumerate(events):
        if is_empty(e["text"]):
            continue
        p = probe(
            config, e["id"], e["author"]["id"], e["thread_id"], parse_time(e["posted_at"], "t"), e["text"]
        )
        if p is None:
            continue
        for m in match_and_index(index, p, p.keys, config):
            found.add((row[m.sighting.comment_id], i))
    stage_seconds = time.perf_counter() - started

    started = time.perf_counter()
    sets = []
    for e in events:
        norm = normalise_duplicate(e["text"])[:MAX_DOC_CHARS]
        empty = is_empty(e["text"]) or probe(config, "", None, "", 0.0, e["text"]) is None
        sets.append(np.empty(0, dtype=np.uint64) if empty else shingles(norm, config.params.k))
    truth = exact_pairs(sets, config.threshold)
    truth_seconds = time.perf_counter() - started

    true_positive = len(found & set(truth))
    recall = true_positive / len(truth)
    precision = true_positive / len(found)
    print(
        f"\nnear-duplicates on {COMMENTS} comments at Jaccard >= {config.threshold}: "
        f"exact pairs {len(truth)}, stage pairs {len(found)}, "
        f"recall {recall:.4f}, precision {precision:.4f} "
        f"(stage {stage_seconds:.1f} s, exact all-pairs {truth_seconds:.1f} s)"
    )
    assert len(truth) > 5000, "the corpus has too few near-duplicate pairs to measure"
    assert recall >= MIN_RECALL
    assert precision >= MIN_PRECISION
