"""The duplicate index survives a worker's death: a new worker with an empty data directory
recovers it from the changelog topics and flags near-repeats of comments it never saw."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import pytest

from streamproc.broker.kafka import KafkaBroker
from streamproc.detect.duplicates import PARAMS, THRESHOLD, DuplicateConfig, keys_by_partition, probe
from streamproc.detect.minhash import jaccard, shingles
from streamproc.detect.text import normalise_duplicate
from streamproc.gen.near_dups import TOPICS, comment_text, variant
from tests.support.workers import (
    WorkerProcess,
    consume,
    duplicates_trail,
    latest_verdicts,
    prefixed_topics,
    produce,
    run,
    wait_for_verdicts,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ORIGINALS = 30


def _similarity(a: str, b: str) -> float:
    return jaccard(shingles(normalise_duplicate(a), PARAMS.k), shingles(normalise_duplicate(b), PARAMS.k))


def _event(cid: str, text: str, thread: str, author: str, minute: int) -> dict[str, Any]:
    return {
        "id": cid,
        "thread_id": thread,
        "text": text,
        "posted_at": f"2026-03-01T10:{minute:02d}:00Z",
        "author": {"id": author},
    }


def _corpus() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Originals, and for each a near (or exact) repeat by another author in another thread."""
    rng = random.Random(5)
    originals, repeats = [], []
    for i in range(ORIGINALS):
        topic = rng.choice(list(TOPICS))
        text = comment_text(rng, topic)
        originals.append(_event(f"orig-{i}", text, f"thread-{i}", f"author-{i}", 0))
        for _ in range(50):  # a copy with edits that is still a near-duplicate by the definition
            copy = text if i % 5 == 0 else variant(rng, text, topic, "https://deals-now.shop")
            if _similarity(text, copy) >= THRESHOLD + 0.05:
                break
        else:
            raise AssertionError(f"no near copy found for original {i}")
        repeats.append(_event(f"copy-{i}", copy, f"other-thread-{i}", f"spammer-{i}", 30))
    return originals, repeats


def _wait_for_partitions(worker: WorkerProcess, topic: str, partitions: int, timeout: float = 150) -> None:
    """Wait until the worker owns every partition of `topic` (the killed one's session expired)."""
    deadline = time.monotonic() + timeout
    while worker.metric_series("streamproc_consumer_lag", topic=topic) < partitions:
        worker.assert_alive()
        assert time.monotonic() < deadline, f"{worker.name} never took over {topic}:\n{worker.log()}"
        time.sleep(1)


def test_new_worker_recovers_index_from_changelog(
    kafka: KafkaBroker, unique_name: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    topics = prefixed_topics(unique_name)
    originals, repeats = _corpus()
    opts: dict[str, Any] = {
        "stages": "links,duplicates",
        "store": "rocksdb://",
        "partitions": 2,
        "topics": topics,
    }
    first = start_worker(kafka.bootstrap, unique_name, name="first", **opts)
    run(produce(kafka.bootstrap, topics.comments, originals))
    seen = latest_verdicts(run(consume(kafka.bootstrap, topics.duplicates, expected=ORIGINALS, timeout=120)))
    assert {v["comment_id"] for v in seen.values()} >= {e["id"] for e in originals}, first.log()
    assert all(seen[e["id"]]["label"] == "unique" for e in originals), first.log()
    time.sleep(5)  # let offsets commit; the changelog writes went out before the verdicts
    first.kill()

    # A fresh data directory: the only copy of the index is in the changelog topics.
    second = start_worker(kafka.bootstrap, unique_name, name="second", **opts)
    _wait_for_partitions(second, topics.comments, 2)
    run(produce(kafka.bootstrap, topics.comments, repeats))
    ids = [e["id"] for e in repeats]  # re-delivered originals may come too: wait for the repeats
    verdicts = wait_for_verdicts(kafka.bootstrap, topics.duplicates, ids, timeout=240)
    second.assert_alive()
    missing = [i for i in ids if i not in verdicts]
    assert not missing, f"no verdict for {missing}:\n" + duplicates_trail(
        kafka.bootstrap, unique_name, topics, missing, [first, second]
    )
    for orig, copy in zip(originals, repeats, strict=True):
        v = verdicts[copy["id"]]
        assert v["label"] in ("duplicate", "near_duplicate"), (copy["id"], v["label"], v["data"])
        assert v["data"]["original_id"] == orig["id"]
        assert v["data"]["scopes"] == ["campaign"]
        assert v["data"]["similarity"] >= THRESHOLD
        assert v["data"]["seconds_since"] == 30 * 60
        assert "duplicate.campaign" in {r["code"] for r in v["reasons"]}
    labels = {verdicts[c["id"]]["label"] for c in repeats}
    assert labels == {"duplicate", "near_duplicate"}, labels
    # The shards' arrival logs came back too: the new worker counts the comments it never saw.
    config = DuplicateConfig()
    expected = 0
    for e in originals + repeats:
        p = probe(config, e["id"], None, "t", 0.0, e["text"])
        assert p is not None
        expected += len(keys_by_partition(p.keys, 2))
    deadline = time.monotonic() + 30  # the gauge is refreshed every 10 s
    while second.metric("streamproc_duplicate_index_comments") != expected:
        assert time.monotonic() < deadline, (expected, second.metrics_text())
        time.sleep(1)
