"""Prometheus metrics of a worker, created against a registry passed in (no global state).

Names follow Prometheus conventions: base units, `_total` counters, and labels with bounded
values only (stage, label, action, reason code, exception class, topic, partition). The worker and
its host come from Prometheus's `instance` label, so no metric carries a host name. The registry
also holds the process (CPU, memory, file descriptors) and platform collectors, because a worker
serves its own registry rather than prometheus-client's global one. docs/operations.md lists
every metric; deploy/ holds the dashboard and alert rules that use exactly these names.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily

# Stage processing is sub-millisecond to tens of milliseconds.
# 2.5 s and 5 s catch a stalled stage (a slow send, a table rebalance) instead of lumping it in +Inf.
DURATION_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip
# Event time to verdict spans milliseconds (live) to hours (backlog after an outage); the alert's
# p99 target (30 s) is a bucket boundary so histogram_quantile is exact there.
LATENCY_BUCKETS = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0,
)  # fmt: skip

# Why a stage dead-letters a message: DecodeError reasons of streamproc.events (comments) and
# stages/spam.py (feedback), and stage_error for a failure on valid input. A bounded set, listed so
# that init_stage can expose each at 0: rate() then counts a reason's first dead letter as well.
DEAD_LETTER_REASONS = (
    "invalid_json",
    "not_object",
    "missing_field",
    "bad_type",
    "bad_timestamp",
    "empty",
    "too_large",
    "text_too_long",
    "field_too_long",
    "too_deep",
    "bad_stage_message",
    "bad_label",
    "no_text",
    "stage_error",
)


class Metrics:
    """The metric objects of one worker."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # No `*_created` gauge beside every counter and histogram: they double the series and no
        # dashboard or alert uses them. (A process-wide switch in prometheus-client, idempotent.)
        disable_created_metrics()
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.consumed = Counter(
            "streamproc_comments_consumed", "Messages read by a stage", ["stage"], registry=r
        )
        self.verdicts = Counter(
            "streamproc_verdicts",
            "Verdicts published, by stage and label",
            ["stage", "label"],
            registry=r,
        )
        self.actions = Counter("streamproc_actions", "Final decisions, by action", ["action"], registry=r)
        self.dead_letters = Counter(
            "streamproc_dead_letters",
            "Messages sent to the dead-letter topic, by reason",
            ["stage", "reason"],
            registry=r,
        )
        self.errors = Counter(
            "streamproc_errors",
            "Stage failures on valid input, by kind",
            ["stage", "kind"],
            registry=r,
        )
        self.duration = Histogram(
            "streamproc_stage_duration_seconds",
            "Time a stage spends on one message",
            ["stage"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.end_to_end = Histogram(
            "streamproc_end_to_end_seconds",
            "Time from the comment's posted_at (event time) to the final verdict",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.pipeline = Histogram(
            "streamproc_pipeline_seconds",
            "Time from the first stage reading a comment to its final verdict",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.index_comments = Gauge(
            "streamproc_duplicate_index_comments",
            "Comments remembered in this worker's partitions of the duplicate index",
            registry=r,
        )
        self.evictions = Counter(
            "streamproc_duplicate_evictions_total",
            "Comments the duplicate index forgot, by cause: left the window, or over the size budget",
            ["cause"],
            registry=r,
        )
        self.pending = Gauge(
            "streamproc_pending_comments",
            "Comments waiting for another worker's answer about their keyed state",
            registry=r,
        )
        self.state_requests = Counter(
            "streamproc_state_requests",
            "Keyed-state requests sent to the worker that owns the partition (one per partition "
            "and comment; partitions this worker owns are served without one)",
            registry=r,
        )
        self.publish_retries = Counter(
            "streamproc_publish_retries",
            "Verdicts, dead letters or state writes sent again because the brokers did not acknowledge them",
            registry=r,
        )
        self.offset_gaps = Counter(
            "streamproc_offset_gaps",
            "Holes in the offsets delivered to the head (Faust after a rebalance), read again",
            registry=r,
        )
        self.stalled = Gauge(
            "streamproc_stalled",
            "1 while an assigned input partition has waiting messages and made no progress for "
            "STREAMPROC_STALL_SECONDS (the watchdog then restarts the worker), else 0",
            registry=r,
        )
        self.model_version = Gauge("streamproc_model_version", "Version of the spam model in use", registry=r)
        self.info = Info("streamproc_build", "streamproc version and enabled stages", registry=r)
        self.group_lag = Gauge(
            "streamproc_group_lag",
            "Messages of a stage group's input topic that the group has not committed, read from "
            "the brokers by every worker of the app (so a group that is entirely down still shows)",
            ["group", "topic"],
            registry=r,
        )
        self._lag: dict[tuple[str, int], int] = {}
        r.register(_LagCollector(self._lag))
        # process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds, ...
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)

    def set_lag(self, lag: dict[tuple[str, int], int]) -> None:
        """Replace the consumer lag readings (topic, partition) -> messages behind."""
        self._lag.clear()
        self._lag.update(lag)

    def init_stage(self, stage: str) -> None:
        """Expose a stage's counters at 0 before its first message, so that rate() and the alerts
        see the first increment (a counter that appears at 1 has no rate until it changes)."""
        self.consumed.labels(stage)
        self.duration.labels(stage)
        for reason in DEAD_LETTER_REASONS:
            self.dead_letters.labels(stage, reason)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Observe the time spent in the block as `stage`'s processing seconds."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.duration.labels(stage).observe(time.perf_counter() - start)


class _LagCollector:
    """Exposes consumer lag per assigned partition, read from Faust's offsets."""

    def __init__(self, lag: dict[tuple[str, int], int]) -> None:
        self._lag = lag

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "streamproc_consumer_lag",
            "Messages not yet consumed, per input partition",
            labels=["topic", "partition"],
        )
        for (topic, partition), lag in sorted(self._lag.items()):
            family.add_metric([topic, str(partition)], lag)
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())
