"""Steady traffic for a fixed time: the worker's memory stops growing and verdict latency stays flat.

Sizes: STREAMPROC_SOAK_SECONDS (CI: 45) at STREAMPROC_SOAK_RATE comments/s (default 60); by hand,
run it for 30 minutes or more (docs/operations.md lists the figures). The first third is warm-up
(caches, and the duplicate window, bounded by STREAMPROC_SOAK_WINDOW comments per partition, fill:
by default a quarter of what a partition gets in the run); the last third is compared with the
middle one.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from streamproc.audit import comment_id_of, percentile
from streamproc.clients import ensure_topics, read_span
from streamproc.config import Settings, load_settings
from tests.support.faults import Feeder, audit_until_complete, mixed_stream
from tests.support.workers import WorkerProcess, prefixed_topics, wait_assigned

SECONDS = float(os.environ.get("STREAMPROC_SOAK_SECONDS", "45"))
RATE = float(os.environ.get("STREAMPROC_SOAK_RATE", "60"))
PARTITIONS = 2
# Duplicate budget per partition: full after the first quarter of the run.
WINDOW = int(os.environ.get("STREAMPROC_SOAK_WINDOW", str(int(SECONDS * RATE / PARTITIONS / 4))))
SAMPLE_SECONDS = 5.0
RSS_SLACK = 1.10  # the last third may use this much more than the middle one (allocator noise) ...
RSS_SLACK_MB = 24.0  # ... plus this
LATENCY_SLACK = 2.0  # the last third's p95 may be this many times the middle one's ...
LATENCY_SLACK_SECONDS = 0.25  # ... plus this

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.faults,
    pytest.mark.slow,
    # The feed (twice over, for a slow machine) and the audit: a full-length run by hand outlasts
    # the suite's per-test timeout.
    pytest.mark.timeout(SECONDS * 2 + 600),
]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def _latencies(settings: Settings) -> list[tuple[float, float]]:
    """(time the comment was published, seconds until its first final verdict), by publish time."""
    posted: dict[str, float] = {}
    first: dict[str, float] = {}

    async def read() -> None:
        async for record in read_span(settings, settings.topics.comments):
            cid = comment_id_of(record.value)
            if cid is not None:
                posted.setdefault(cid, record.timestamp / 1000)
        async for record in read_span(settings, settings.topics.verdicts):
            cid = (record.key or b"").decode()
            first.setdefault(cid, record.timestamp / 1000)

    asyncio.run(read())
    return sorted((t, first[cid] - t) for cid, t in posted.items() if cid in first)


def _thirds(values: list[tuple[float, float]], start: float, end: float) -> list[list[float]]:
    third = (end - start) / 3
    out: list[list[float]] = [[], [], []]
    for at, value in values:
        out[min(2, max(0, int((at - start) / third)))].append(value)
    return out


def test_steady_traffic_keeps_memory_and_latency_flat(
    kafka: Any, unique_name: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    topics = prefixed_topics(unique_name)
    settings = load_settings({}, brokers=kafka.bootstrap, partitions=PARTITIONS, topics=topics)
    asyncio.run(ensure_topics(settings))
    worker = start_worker(
        kafka.bootstrap,
        unique_name,
        partitions=PARTITIONS,
        store="rocksdb://",
        topics=topics,
        name="soak",
        # A duplicate window that fills within the first third: after it, state stops growing.
        extra_env={"STREAMPROC_DUPLICATE_MAX_COMMENTS": str(WINDOW)},
    )
    wait_assigned([worker], topics.comments, PARTITIONS, timeout=120)
    assert worker.proc is not None
    events = mixed_stream(int(SECONDS * RATE), 0, prefix="s-")
    rss: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(SAMPLE_SECONDS):
            rss.append((time.time(), _rss_mb(worker.proc.pid)))  # type: ignore[union-attr]

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.time()
    sampler.start()
    feeder = Feeder(settings, events, RATE).start()
    try:
        feeder.wait(timeout=SECONDS * 2 + 120)
    finally:
        stop.set()
    ended = time.time()
    report, _ = audit_until_complete(settings, timeout=180)
    rss_thirds = _thirds(rss, started, ended)
    lat_thirds = _thirds(_latencies(settings), started, ended)
    p95 = [percentile(sorted(t), 0.95) or 0.0 for t in lat_thirds]
    p50 = [percentile(sorted(t), 0.5) or 0.0 for t in lat_thirds]
    peak = [max(t, default=0.0) for t in rss_thirds]
    print(
        f"\nsoak: {len(events)} comments in {ended - started:.0f} s ({len(events) / (ended - started):.0f}/s)\n"
        f"RSS peak by third (MB): {', '.join(f'{p:.0f}' for p in peak)}\n"
        f"latency p50 by third (s): {', '.join(f'{p:.3f}' for p in p50)}\n"
        f"latency p95 by third (s): {', '.join(f'{p:.3f}' for p in p95)}\n{report.render()}"
    )
    assert report.ok, report.render()
    worker.assert_alive()
    assert all(rss_thirds) and all(lat_thirds), "too short a run to compare thirds"
    assert peak[2] <= peak[1] * RSS_SLACK + RSS_SLACK_MB, f"RSS still growing: {peak}"
    assert p95[2] <= p95[1] * LATENCY_SLACK + LATENCY_SLACK_SECONDS, f"latency growing: {p95}"
