"""`streamproc audit`: reconcile the comments topic with the verdicts and dead-letter topics, so
that "nothing lost" is a measured fact.

Every record of the comments topic in the audited range must end as a final verdict (keyed by its
comment id) or as a dead letter (which names the record's partition and offset). The `Ledger` is
the pure part (records in, report out); `run_audit` reads the topics.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from streamproc.config import Settings

GRACE_SECONDS = 60.0  # a comment younger than this without a verdict is pending, not missing
MAX_LISTED = 50  # missing comments listed in the report (all are counted)


def comment_id_of(value: bytes | None) -> str | None:
    """The `id` of an encoded comment event, or None when the record is not a usable comment."""
    if not value:
        return None
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    cid = obj.get("id") if isinstance(obj, dict) else None
    return cid if isinstance(cid, str) and cid else None


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) of sorted values, nearest rank; None when there are none."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True, slots=True)
class Missing:
    comment_id: str | None
    partition: int
    offset: int
    age: float  # seconds since the comment was published


@dataclass(slots=True)
class AuditReport:
    records: int  # comment records in the range
    distinct_ids: int
    judged: int  # records whose comment has a final verdict
    dead_lettered: int  # records sent to the dead-letter topic instead
    missing: list[Missing]  # neither, and older than the grace period
    pending: int  # neither, but younger than the grace period
    judged_twice: int  # comment ids with more verdicts than records (at-least-once re-delivery)
    extra_verdicts: int  # verdicts beyond one per record
    dead_letter_reasons: dict[str, int]
    latency: dict[str, float | None]  # seconds from publishing to the first verdict: p50, p95, p99, max
    grace: float

    @property
    def ok(self) -> bool:
        return not self.missing

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "distinct_ids": self.distinct_ids,
            "judged": self.judged,
            "dead_lettered": self.dead_lettered,
            "missing": len(self.missing),
            "missing_comments": [
                {
                    "comment_id": m.comment_id,
                    "partition": m.partition,
                    "offset": m.offset,
                    "age": round(m.age, 1),
                }
                for m in self.missing
            ],
            "pending": self.pending,
            "judged_more_than_once": self.judged_twice,
            "extra_verdicts": self.extra_verdicts,
            "dead_letter_reasons": self.dead_letter_reasons,
            "latency_seconds": self.latency,
            "grace_seconds": self.grace,
            "ok": self.ok,
        }

    def render(self, max_listed: int = MAX_LISTED) -> str:
        def secs(v: float | None) -> str:
            return "-" if v is None else f"{v:.3f} s"

        lat = self.latency
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.dead_letter_reasons.items())) or "-"
        lines = [
            f"comments        {self.records:>9,}  ({self.distinct_ids:,} distinct ids)",
            f"final verdicts  {self.judged:>9,}  judged more than once: {self.judged_twice:,} "
            f"({self.extra_verdicts:,} extra verdicts)",
            f"dead letters    {self.dead_lettered:>9,}  {reasons}",
            f"missing         {len(self.missing):>9,}  (pending, younger than {self.grace:.0f} s: {self.pending:,})",
            f"verdict latency p50 {secs(lat['p50'])}  p95 {secs(lat['p95'])}  p99 {secs(lat['p99'])}  "
            f"max {secs(lat['max'])}",
        ]
        for m in self.missing[:max_listed]:
            lines.append(f"  missing {m.comment_id or '(no id)'} partition={m.partition} offset={m.offset}")
        if len(self.missing) > max_listed:
            lines.append(f"  ... and {len(self.missing) - max_listed:,} more (--json lists them all)")
        lines.append("OK: every comment is accounted for" if self.ok else "FAILED: comments are missing")
        return "\n".join(lines)


@dataclass(slots=True)
class Ledger:
    """Comment records, verdicts and dead letters as they are read; `report()` reconciles them."""

    comments_topic: str
    _records: list[tuple[int, int, float, str | None]] = field(default_factory=list)
    _verdicts: dict[str, list[float]] = field(default_factory=dict)
    _dead: dict[tuple[int, int], str] = field(default_factory=dict)

    def comment(self, partition: int, offset: int, timestamp: float, value: bytes | None) -> None:
        self._records.append((partition, offset, timestamp, comment_id_of(value)))

    def verdict(self, value: bytes | None, timestamp: float) -> None:
        if not value:
            return
        try:
            cid = orjson.loads(value).get("comment_id")
        except (orjson.JSONDecodeError, AttributeError):
            return
        if isinstance(cid, str):
            self._verdicts.setdefault(cid, []).append(timestamp)

    def dead_letter(self, headers: Mapping[str, bytes]) -> None:
        """A dead letter counts for the comment record it names (source topic, partition, offset)."""
        if headers.get("streamproc-source-topic", b"").decode(errors="replace") != self.comments_topic:
            return  # a later stage's input: that comment's verdict carries the error
        try:
            key = (int(headers["streamproc-source-partition"]), int(headers["streamproc-source-offset"]))
        except (KeyError, ValueError):
            return
        self._dead[key] = headers.get("streamproc-error-reason", b"unknown").decode(errors="replace")

    def report(self, now: float, grace: float = GRACE_SECONDS) -> AuditReport:
        per_id = Counter(cid for _, _, _, cid in self._records if cid is not None)
        judged = dead = pending = 0
        missing: list[Missing] = []
        reasons: Counter[str] = Counter()
        latencies: list[float] = []
        first_seen: dict[str, float] = {}
        for partition, offset, ts, cid in self._records:
            if cid is not None and cid in self._verdicts:
                judged += 1
                first_seen[cid] = min(first_seen.get(cid, ts), ts)
            elif (partition, offset) in self._dead:
                dead += 1
                reasons[self._dead[(partition, offset)]] += 1
            elif now - ts < grace:
                pending += 1
            else:
                missing.append(Missing(cid, partition, offset, now - ts))
        for cid, published in first_seen.items():
            latencies.append(max(0.0, min(self._verdicts[cid]) - published))
        latencies.sort()
        twice = sum(1 for cid, n in per_id.items() if len(self._verdicts.get(cid, ())) > n)
        extra = sum(max(0, len(self._verdicts.get(cid, ())) - n) for cid, n in per_id.items())
        return AuditReport(
            records=len(self._records),
            distinct_ids=len(per_id),
            judged=judged,
            dead_lettered=dead,
            missing=sorted(missing, key=lambda m: (m.partition, m.offset)),
            pending=pending,
            judged_twice=twice,
            extra_verdicts=extra,
            dead_letter_reasons=dict(reasons),
            latency={
                "p50": percentile(latencies, 0.5),
                "p95": percentile(latencies, 0.95),
                "p99": percentile(latencies, 0.99),
                "max": latencies[-1] if latencies else None,
            },
            grace=grace,
        )


async def run_audit(
    settings: Settings,
    *,
    since: float | None = None,
    until: float | None = None,
    start_offset: int | None = None,
    end_offset: int | None = None,
    grace: float = GRACE_SECONDS,
) -> AuditReport:
    """Read the comments topic over the range, then the verdicts and dead letters published since
    its first record, and reconcile them."""
    from aiokafka import AIOKafkaConsumer

    from streamproc.clients import client_options, read_span, topic_span

    topics = settings.topics
    probe = AIOKafkaConsumer(**client_options(settings), group_id=None)
    await probe.start()
    try:
        span = await topic_span(
            probe, topics.comments, since=since, until=until, start_offset=start_offset, end_offset=end_offset
        )
    finally:
        await probe.stop()
    ledger = Ledger(topics.comments)
    first = math.inf
    async for record in read_span(settings, topics.comments, span):
        ts = record.timestamp / 1000
        first = min(first, ts)
        ledger.comment(record.partition, record.offset, ts, record.value)
    # Verdicts and dead letters come after their comment: read from the first comment's time on
    # (with a minute of slack for clocks that differ between producers and workers).
    after = None if first == math.inf else first - 60
    now = time.time()
    for topic in (topics.verdicts, topics.dlq):
        probe = AIOKafkaConsumer(**client_options(settings), group_id=None)
        await probe.start()
        try:
            out_span = await topic_span(probe, topic, since=after)
        finally:
            await probe.stop()
        async for record in read_span(settings, topic, out_span):
            if topic == topics.verdicts:
                ledger.verdict(record.value, record.timestamp / 1000)
            else:
                ledger.dead_letter({k: v for k, v in record.headers or ()})
    return ledger.report(now, grace)
