"""Exact ground truth for near-duplicate evaluation: every pair of shingle sets at or above a
Jaccard threshold, fast enough for tens of thousands of comments (used by the quality test and
bench/bench_near_dup_methods.py)."""

from __future__ import annotations

import math

import numpy as np


def exact_pairs(sets: list[np.ndarray], t: float) -> dict[tuple[int, int], float]:
    """Every pair of documents with Jaccard >= t, exactly.

    AllPairs (Bayardo et al.): documents in order of size, tokens rarest first; a pair with
    Jaccard >= t must share a token between the probing prefix (|y| - ceil(t|y|) + 1 tokens) of
    the larger and the indexing prefix (|x| - ceil(2t/(1+t)|x|) + 1) of the smaller. Candidates are
    verified with vectorised overlap counts.
    """
    n = len(sets)
    lens = np.array([len(s) for s in sets], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(lens)])
    _, inv = np.unique(np.concatenate(sets), return_inverse=True)
    freq = np.bincount(inv)
    toks = []
    for i in range(n):
        t_i = inv[indptr[i] : indptr[i + 1]]
        toks.append(t_i[np.lexsort((t_i, freq[t_i]))])
    order = np.argsort(lens, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    alpha = 2 * t / (1 + t)
    live = [i for i in range(n) if lens[i]]
    idx_tok = np.concatenate([toks[i][: lens[i] - math.ceil(alpha * lens[i]) + 1] for i in live])
    idx_doc = np.concatenate(
        [np.full(lens[i] - math.ceil(alpha * lens[i]) + 1, i, dtype=np.int64) for i in live]
    )
    by = np.lexsort((rank[idx_doc], idx_tok))
    post_doc, post_rank = idx_doc[by], rank[idx_doc[by]]
    post_ptr = np.concatenate([[0], np.cumsum(np.bincount(idx_tok, minlength=len(freq)))])
    mask = np.zeros(len(freq), dtype=bool)
    pairs: dict[tuple[int, int], float] = {}
    for y in order:
        size = lens[y]
        if not size:
            continue
        probe_toks = toks[y][: size - math.ceil(t * size) + 1]
        starts, ends = post_ptr[probe_toks], post_ptr[probe_toks + 1]
        counts = ends - starts
        if not counts.sum():
            continue
        firsts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        at = np.repeat(starts - firsts, counts) + np.arange(counts.sum())
        cand = np.unique(post_doc[at[post_rank[at] < rank[y]]])
        cand = cand[lens[cand] >= t * size]
        if not len(cand):
            continue
        cl = lens[cand]
        offsets = np.concatenate([[0], np.cumsum(cl)[:-1]])
        gather = np.repeat(indptr[cand] - offsets, cl) + np.arange(cl.sum())
        mask[inv[indptr[y] : indptr[y + 1]]] = True
        overlap = np.add.reduceat(mask[inv[gather]].astype(np.int64), offsets)
        mask[inv[indptr[y] : indptr[y + 1]]] = False
        jac = overlap / (cl + size - overlap)
        for j, v in zip(cand[jac >= t].tolist(), jac[jac >= t].tolist(), strict=True):
            pairs[(min(j, int(y)), max(j, int(y)))] = v
    return pairs
