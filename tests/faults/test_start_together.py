"""Workers of two stage groups, two of each, all started at once while comments flow: the groups
rebalance several times in their first seconds, and every comment must still get its verdict."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from streamproc.clients import ensure_topics
from streamproc.config import load_settings
from tests.support.faults import RUNS, Feeder, audit_until_complete, mixed_stream, where_missing_stopped
from tests.support.workers import WorkerProcess, prefixed_topics

pytestmark = [pytest.mark.e2e, pytest.mark.faults]


@pytest.mark.parametrize("run", range(RUNS))
def test_two_groups_of_two_workers_started_together(
    kafka: Any, unique_name: str, start_worker: Callable[..., WorkerProcess], run: int
) -> None:
    topics = prefixed_topics(unique_name)
    settings = load_settings({}, brokers=kafka.bootstrap, partitions=4, topics=topics)
    asyncio.run(ensure_topics(settings))
    feeder = Feeder(settings, mixed_stream(600, 12, prefix=f"r{run}-"), rate=40).start()
    workers = [
        start_worker(
            kafka.bootstrap, unique_name, stages=stages, partitions=4, topics=topics, store="rocksdb://",
            name=f"{stages.replace(',', '-')}-{i}", loglevel="info",
        )
        for stages in ("links,duplicates", "spam,decide")
        for i in range(2)
    ]  # fmt: skip
    feeder.wait(timeout=120)
    report, took = audit_until_complete(settings, timeout=240)
    print(f"\nrun {run}: accounted for {took:.0f} s after the feed ended\n{report.render()}")
    restarts = {w.name: w.log_path.read_text().count("worker_restart") for w in workers}
    assert report.ok, report.render() + "\n" + where_missing_stopped(settings, report)
    assert not any(restarts.values()), f"the watchdog had to restart {restarts}"
