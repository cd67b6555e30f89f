"""Comments arriving faster than two workers judge them, with a small in-flight limit: each
worker reads 50 comments ahead of their verdicts at most, so fetching its input pauses and resumes
again and again while comments wait for state that the other worker owns. Every comment must get
its verdict without the watchdog's help (a pause never resumed leaves the rest of the feed
unread, and only the watchdog would notice).

What it guards: the pause past the limit, the resume below half of it, and the round trips between
the workers while paused (a head that waited for room instead deadlocked two workers under a
20,000-comment burst: docs/performance.md; at CI's size Faust's queue does not fill, so this test
checks the pausing itself, not that burst).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest

from streamproc.clients import ensure_topics
from streamproc.config import load_settings
from tests.support.faults import (
    COMMENTS,
    RUNS,
    Feeder,
    audit_until_complete,
    mixed_stream,
    where_missing_stopped,
)
from tests.support.workers import WorkerProcess, prefixed_topics

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

LIMIT = 50


@pytest.mark.parametrize("run", range(RUNS))
def test_two_workers_drain_a_backlog_pausing_their_input_past_the_in_flight_limit(
    kafka: Any, unique_name: str, start_worker: Callable[..., WorkerProcess], run: int
) -> None:
    topics = prefixed_topics(unique_name)
    settings = load_settings({}, brokers=kafka.bootstrap, partitions=4, topics=topics)
    asyncio.run(ensure_topics(settings))
    workers = [
        start_worker(
            kafka.bootstrap, unique_name, partitions=4, topics=topics, store="rocksdb://",
            name=f"w{i}", loglevel="info", extra_env={"STREAMPROC_MAX_IN_FLIGHT": str(LIMIT)},
        )
        for i in range(2)
    ]  # fmt: skip
    # Faster than two workers judge (about 150/s each here): the backlog grows while they work.
    feeder = Feeder(settings, mixed_stream(COMMENTS, 10, prefix=f"b{run}-"), rate=600).start()
    feeder.wait(timeout=120)
    report, took = audit_until_complete(settings, timeout=300)
    logs = {w.name: w.log_path.read_text() for w in workers}
    pauses = {name: len(re.findall(r"input_paused in_flight=(\d+)", text)) for name, text in logs.items()}
    restarts = {name: text.count("worker_restart") for name, text in logs.items()}
    print(
        f"\nrun {run}: backlog of {COMMENTS} accounted for {took:.0f} s after the feed; pauses {pauses}\n{report.render()}"
    )
    assert report.ok, report.render() + "\n" + where_missing_stopped(settings, report)
    assert not any(restarts.values()), f"the watchdog had to restart {restarts}"
    # A second pause means the first was resumed; what was fetched before a pause is still taken.
    assert all(n >= 2 for n in pauses.values()), f"the in-flight limit never bit twice: pauses {pauses}"
    for name, text in logs.items():  # the limit is the setting's, not the default
        assert all(int(n) >= LIMIT for n in re.findall(r"input_paused in_flight=(\d+)", text)), name
    for worker in workers:
        worker.assert_alive()
