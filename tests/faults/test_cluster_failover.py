"""A real cluster's failover: three KRaft brokers, topics with replication 3 and min.insync.replicas
2, producers with acks=all. The broker that leads most of the comment and state partitions is
SIGKILLed mid-stream and stays down; leadership moves, the workers follow without a restart, and
every comment gets its verdict (audit: 0 missing).

Sizes: STREAMPROC_FAULT_COMMENTS (CI: 2,000) at STREAMPROC_FAULT_RATE (200/s); one run in CI,
STREAMPROC_FAULT_RUNS by hand.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from aiokafka import AIOKafkaConsumer

from streamproc.broker.kafka import KafkaCluster
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
RECOVERY_TIMEOUT = 300.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[KafkaCluster]:
    cluster = KafkaCluster(3).start()
    try:
        yield cluster
    finally:
        for node in cluster.nodes:  # throwaway data: no controlled shutdown of each in turn
            node.stop(kill=True)
        cluster.close()


async def _leaders(bootstrap: str, topics: list[str]) -> Counter[int]:
    """How many partitions of `topics` each broker leads."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    await asyncio.sleep(0)
    try:
        await consumer._client.force_metadata_update()
        cluster = consumer._client.cluster
        counts: Counter[int] = Counter()
        for topic in topics:
            for p in cluster.partitions_for_topic(topic) or ():
                from aiokafka import TopicPartition

                counts[cluster.leader_for_partition(TopicPartition(topic, p))] += 1
        return counts
    finally:
        await consumer.stop()


@pytest.mark.parametrize("run", range(RUNS))
def test_the_workers_follow_a_leader_that_died(
    cluster: KafkaCluster, unique_name: str, start_worker: Callable[..., WorkerProcess], run: int
) -> None:
    topics = prefixed_topics(unique_name)
    settings = load_settings(
        {}, brokers=cluster.bootstrap, partitions=PARTITIONS, replication=3, topics=topics
    )
    asyncio.run(ensure_topics(settings))
    extra = {"STREAMPROC_REPLICATION": "3"}
    workers = [
        start_worker(
            cluster.bootstrap, unique_name, partitions=PARTITIONS, store="rocksdb://", topics=topics,
            name=f"w{i}", extra_env=extra,
        )
        for i in range(2)
    ]  # fmt: skip
    wait_assigned(workers, topics.comments, PARTITIONS, timeout=180)
    events = mixed_stream(COMMENTS, COMMENTS // 20, prefix=f"r{run}-")
    feeder = Feeder(settings, events, RATE).start()
    feeder.wait_sent(int(len(events) * 0.4), timeout=len(events) / RATE + 120)
    watched = [
        topics.comments,
        f"{unique_name}-state-requests",
        f"{unique_name}-state-replies",
        f"{unique_name}-state-changelog",
    ]
    leaders = asyncio.run(_leaders(cluster.bootstrap, watched))
    victim_id, led = leaders.most_common(1)[0]
    victim = cluster.node_by_id(victim_id)
    victim.stop(kill=True)
    killed_at = time.time()
    try:
        feeder.wait(timeout=len(events) / RATE + 300)
        report, _ = audit_until_complete(settings, timeout=RECOVERY_TIMEOUT)
        history, newest = verdict_history(settings)
        print(
            f"\nrun {run}: broker {victim_id} (leader of {led} of {sum(leaders.values())} partitions) killed after "
            f"{int(len(events) * 0.4)} of {len(events)} events at {RATE:.0f}/s; feeder retries {feeder.retries}\n"
            f"{report.render()}\nkill to last verdict: {newest - killed_at:.1f} s"
        )
        logs = "\n".join(f"--- {w.name} ---\n{w.log()}" for w in workers)
        assert report.ok, f"{report.render()}\n{logs}"
        assert not inconsistent_rejudgements(history)
        for w in workers:
            w.assert_alive()
            assert "worker_restart" not in w.log_path.read_text(), f"{w.name} needed a restart:\n{w.log()}"
        after = asyncio.run(_leaders(cluster.bootstrap, watched))
        assert victim_id not in after, f"broker {victim_id} still leads {after}"
    finally:
        if run < RUNS - 1:
            victim.start()  # the next run gets three brokers again
