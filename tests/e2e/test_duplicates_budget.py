"""The duplicate index keeps to its size budget in the stream: each partition's shard forgets its
oldest comments beyond STREAMPROC_DUPLICATE_MAX_COMMENTS, and the metrics say so."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import pytest

from streamproc.broker.tansu import Tansu
from streamproc.detect.duplicates import DuplicateConfig, keys_by_partition, probe
from streamproc.gen.near_dups import TOPICS, comment_text
from tests.support.workers import WorkerProcess, prefixed_topics, produce, run, wait_for_verdicts

pytestmark = pytest.mark.e2e

BUDGET = 10
PARTITIONS = 2


def _event(cid: str, text: str, minute: int) -> dict[str, Any]:
    return {
        "id": cid,
        "thread_id": f"thread-{cid}",
        "text": text,
        "posted_at": f"2026-03-01T10:{minute:02d}:00Z",
        "author": {"id": f"author-{cid}"},
    }


def test_each_shard_forgets_its_oldest_comments_beyond_the_budget(
    tansu: Tansu, unique_name: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    topics = prefixed_topics(unique_name)
    rng = random.Random(21)
    texts = [comment_text(rng, rng.choice(list(TOPICS))) for _ in range(40)]
    originals = [_event(f"c-{i}", t, i) for i, t in enumerate(texts)]
    worker = start_worker(
        tansu.bootstrap,
        unique_name,
        stages="links,duplicates",
        partitions=PARTITIONS,
        topics=topics,
        extra_env={"STREAMPROC_DUPLICATE_MAX_COMMENTS": str(BUDGET)},
    )
    run(produce(tansu.bootstrap, topics.comments, originals))
    seen = wait_for_verdicts(tansu.bootstrap, topics.duplicates, [e["id"] for e in originals], 120)
    assert all(seen[e["id"]]["label"] == "unique" for e in originals), worker.log()

    repeats = [_event("again-first", texts[0], 50), _event("again-last", texts[-1], 51)]
    run(produce(tansu.bootstrap, topics.comments, repeats))
    verdicts = wait_for_verdicts(tansu.bootstrap, topics.duplicates, ["again-first", "again-last"], 120)
    assert verdicts["again-first"]["label"] == "unique", verdicts["again-first"]  # forgotten
    assert verdicts["again-last"]["label"] == "duplicate", verdicts["again-last"]
    assert verdicts["again-last"]["data"]["original_id"] == "c-39"

    # Each shard saw every comment that had a key there and keeps the newest BUDGET of them.
    config = DuplicateConfig()
    per_shard = dict.fromkeys(range(PARTITIONS), 0)
    for e in originals + repeats:
        p = probe(config, e["id"], None, "t", 0.0, e["text"])
        assert p is not None
        for shard in keys_by_partition(p.keys, PARTITIONS):
            per_shard[shard] += 1
    deadline = time.monotonic() + 30  # the gauge is refreshed every 10 s
    while worker.metric("streamproc_duplicate_index_comments") != BUDGET * PARTITIONS:
        assert time.monotonic() < deadline, worker.metrics_text()
        time.sleep(1)
    evicted = worker.metric("streamproc_duplicate_evictions_total", cause="budget")
    assert evicted == sum(n - BUDGET for n in per_shard.values())
    assert worker.metric("streamproc_duplicate_evictions_total", cause="window") == 0
