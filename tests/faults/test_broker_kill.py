"""Apache Kafka SIGKILLed mid-stream and restarted on its data directory 5 s later, with and
without a worker killed at the same moment: the workers reconnect by themselves and every comment
gets its verdict (audit: 0 missing), re-judged comments judged the same.

Sizes: STREAMPROC_FAULT_COMMENTS (CI: 2,000 by default) at STREAMPROC_FAULT_RATE (200/s),
STREAMPROC_FAULT_RUNS times each (default 1 in CI; 3 or more by hand, with 20,000 comments:
docs/operations.md lists the figures).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streamproc.broker.kafka import KafkaBroker
from streamproc.clients import ensure_topics
from streamproc.config import load_settings
from tests.support.faults import (
    COMMENTS,
    RATE,
    RUNS,
    Feeder,
    audit_until_complete,
    inconsistent_rejudgements,
    mixed_stream,
    verdict_history,
)
from tests.support.workers import WorkerProcess, prefixed_topics, wait_assigned

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

PARTITIONS = 4
DOWN_SECONDS = 5.0
RECOVERY_TIMEOUT = 300.0


@pytest.fixture
def own_kafka(tmp_path: Path) -> Iterator[KafkaBroker]:
    """A broker of this test alone: it gets killed."""
    with KafkaBroker(workdir=tmp_path / "kafka") as broker:
        yield broker


@pytest.mark.parametrize("also_a_worker", [False, True], ids=["broker", "broker+worker"])
@pytest.mark.parametrize("run", range(RUNS))
def test_a_killed_broker_comes_back_and_no_comment_is_lost(
    own_kafka: KafkaBroker,
    unique_name: str,
    start_worker: Callable[..., WorkerProcess],
    also_a_worker: bool,
    run: int,
) -> None:
    topics = prefixed_topics(unique_name)
    settings = load_settings({}, brokers=own_kafka.bootstrap, partitions=PARTITIONS, topics=topics)
    asyncio.run(ensure_topics(settings))
    workers = [
        start_worker(
            own_kafka.bootstrap,
            unique_name,
            partitions=PARTITIONS,
            store="rocksdb://",
            topics=topics,
            name=f"w{i}",
        )
        for i in range(2)
    ]
    wait_assigned(workers, topics.comments, PARTITIONS, timeout=120)
    events = mixed_stream(COMMENTS, COMMENTS // 20)
    feeder = Feeder(settings, events, RATE).start()
    feeder.wait_sent(int(len(events) * 0.4), timeout=len(events) / RATE + 120)
    own_kafka.stop(kill=True)
    if also_a_worker:
        workers[0].kill()
    time.sleep(DOWN_SECONDS)
    own_kafka.start()
    restarted_at = time.time()
    feeder.wait(timeout=len(events) / RATE + 300)
    report, _ = audit_until_complete(settings, timeout=RECOVERY_TIMEOUT)
    history, newest = verdict_history(settings)
    print(
        f"\nrun {run} ({'broker and a worker' if also_a_worker else 'broker'} killed after "
        f"{int(len(events) * 0.4)} of {len(events)} events at {RATE:.0f}/s; feeder retries {feeder.retries}):\n"
        f"{report.render()}\nbroker restart to last verdict: {newest - restarted_at:.1f} s"
    )
    logs = "\n".join(f"--- {w.name} ---\n{w.log()}" for w in workers)
    assert report.ok, f"{report.render()}\n{logs}"
    # The topic holds every event; a send whose acknowledgement died with the broker is sent
    # again by the feeder, so an event may be there twice (the audit counts the comment once).
    assert len(events) <= report.records <= len(events) + feeder.retries, report.render()
    differing = inconsistent_rejudgements(history)
    assert not differing, f"re-judged differently: {list(differing.items())[:5]}"
    for w in workers[1:] if also_a_worker else workers:
        w.assert_alive()
