"""Comments published while workers take over a dead worker's partitions all get a duplicates
verdict: a takeover may delay or repeat them, never lose them.

Two takeovers: a fresh worker replaces the only one (the comments wait for it, as the dead member
stays in the group until its session expires), and two of three workers share the partitions of
the one killed while comments keep flowing.

What these catch (streamproc/recovery.py): Faust resumed a new owner's stream partitions before
seeking them to their committed offsets; records fetched during the seek were processed, the seek
and the queue clearing that follows dropped the ones not yet processed, and their offsets were
committed anyway. Whether a fetch lands in the seek (tens of ms) is timing: more partitions make
the seek longer, and standby changelog traffic keeps the fetcher busy, hence 8 partitions in the
first test and three workers in the second.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from streamproc.broker.kafka import KafkaBroker
from streamproc.gen.near_dups import TOPICS, comment_text, variant
from tests.e2e.test_duplicates_recovery import ORIGINALS, _corpus, _event
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

BACKLOG = 300  # other comments waiting with the repeats for the new worker
# info shows Faust's rebalances, recoveries and seeks in the worker logs (printed on failure)
LOGLEVEL = os.environ.get("STREAMPROC_TEST_LOGLEVEL", "warning")


def _opts(topics: Any, partitions: int) -> dict[str, Any]:
    return {
        "stages": "links,duplicates",
        "store": "rocksdb://",
        "partitions": partitions,
        "topics": topics,
        "loglevel": LOGLEVEL,
    }


def _flow(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """Comments on the generator's topics, about a third of them near copies of earlier ones."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        topic = rng.choice(list(TOPICS))
        if out and rng.random() < 0.3:
            text = variant(rng, rng.choice(out)["text"], topic, "https://deals-now.shop")
        else:
            text = comment_text(rng, topic)
        out.append(_event(f"flow-{i}", text, f"thread-{i % 7}", f"author-{i % 11}", i // 60))
    return out


def test_comments_waiting_for_a_new_worker_get_verdicts(
    kafka: KafkaBroker, unique_name: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    topics = prefixed_topics(unique_name)
    originals, repeats = _corpus()
    opts = _opts(topics, partitions=8)
    first = start_worker(kafka.bootstrap, unique_name, name="first", **opts)
    run(produce(kafka.bootstrap, topics.comments, originals))
    seen = latest_verdicts(run(consume(kafka.bootstrap, topics.duplicates, expected=ORIGINALS, timeout=120)))
    assert {e["id"] for e in originals} <= set(seen), first.log()
    time.sleep(5)  # let offsets commit
    first.kill()

    second = start_worker(kafka.bootstrap, unique_name, name="second", **opts)
    # At once, on purpose: a backlog is waiting when `second` gets the partitions.
    others = iter(_flow(random.Random(3), BACKLOG))
    step = BACKLOG // len(repeats)
    backlog = [e for copy in repeats for e in [copy, *(next(others) for _ in range(step))]]
    run(produce(kafka.bootstrap, topics.comments, backlog))
    ids = [e["id"] for e in backlog]
    verdicts = wait_for_verdicts(kafka.bootstrap, topics.duplicates, ids, timeout=90)
    second.assert_alive()
    missing = [i for i in ids if i not in verdicts]
    assert not missing, f"no verdict for {len(missing)} of {len(ids)}: {missing}\n" + duplicates_trail(
        kafka.bootstrap, unique_name, topics, missing, [first, second]
    )
    for orig, copy in zip(originals, repeats, strict=True):
        assert verdicts[copy["id"]]["data"].get("original_id") == orig["id"], verdicts[copy["id"]]


def test_comments_flowing_while_a_worker_dies_get_verdicts(
    kafka: KafkaBroker, unique_name: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    """One of three workers is killed while comments flow; they keep flowing while the two others
    take over its partitions and for a while after."""
    topics = prefixed_topics(unique_name)
    opts = _opts(topics, partitions=4)
    workers = [start_worker(kafka.bootstrap, unique_name, name=n, **opts) for n in "abc"]
    lag = "streamproc_consumer_lag"

    def owned(w: WorkerProcess) -> int:
        return w.metric_series(lag, topic=topics.comments)

    deadline = time.monotonic() + 180  # a loaded machine can take a few rebalances
    while sum(owned(w) for w in workers) < 4 or sum(owned(w) > 0 for w in workers) < 2:
        for w in workers:
            w.assert_alive()
        assert time.monotonic() < deadline, "no assignment:\n" + "\n".join(w.log() for w in workers)
        time.sleep(1)
    # Faust's assignor is sticky: the last one to join may own only standby replicas.
    dead = max(workers, key=owned)
    alive = [w for w in workers if w is not dead]

    events = _flow(random.Random(11), 3000)
    sent: list[str] = []
    stop = threading.Event()

    async def publish() -> None:  # about 8 comments a second, over every partition
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, linger_ms=5)
        await producer.start()
        try:
            for e in events:
                if stop.is_set():
                    break
                await producer.send_and_wait(topics.comments, orjson.dumps(e), key=e["id"].encode())
                sent.append(e["id"])
                await asyncio.sleep(0.1)
        finally:
            await producer.stop()

    flow = threading.Thread(target=run, args=(publish(),))
    flow.start()
    try:
        time.sleep(5)  # some comments judged, some in flight
        dead.kill()
        deadline = time.monotonic() + 120
        while sum(w.metric_series(lag, topic=topics.comments) for w in alive) < 4:
            for w in alive:
                w.assert_alive()
            assert time.monotonic() < deadline, "no takeover:\n" + "\n".join(w.log() for w in alive)
            time.sleep(0.5)
        time.sleep(10)  # still flowing after the takeover
    finally:
        stop.set()
        flow.join()
    verdicts = wait_for_verdicts(kafka.bootstrap, topics.duplicates, sent, timeout=60)
    for w in alive:
        w.assert_alive()
    missing = [i for i in sent if i not in verdicts]
    assert not missing, f"no verdict for {len(missing)} of {len(sent)}: {missing}\n" + duplicates_trail(
        kafka.bootstrap, unique_name, topics, missing, workers
    )
