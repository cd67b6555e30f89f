"""Fault-test tools: a steady comment feed that survives broker outages, the audit until every
comment is accounted for, and checks that re-delivered comments were judged the same way."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from streamproc.audit import AuditReport, run_audit
from streamproc.clients import client_options, event_key, read_span
from streamproc.config import Settings
from streamproc.gen.demo import generate

log = logging.getLogger("tests.faults")

# Malformed events of every kind the first stage must dead-letter; each gets a unique id (where it
# has one) so that the audit can tell them apart.
# Sizes of the fault tests: CI runs these defaults; by hand, more (docs/operations.md).
COMMENTS = int(os.environ.get("STREAMPROC_FAULT_COMMENTS", "2000"))
RATE = float(os.environ.get("STREAMPROC_FAULT_RATE", "200"))  # comments per second
RUNS = int(os.environ.get("STREAMPROC_FAULT_RUNS", "1"))  # repetitions of each fault test

MALFORMED = (
    b"{broken json %d",
    b'{"id": "m-%d", "thread_id": "t", "posted_at": "2026-01-01T00:00:00Z"}',
    b'{"id": "m-%d", "thread_id": "t", "text": 42, "posted_at": "2026-01-01T00:00:00Z"}',
    b'{"id": "m-%d", "thread_id": "t", "text": "x", "posted_at": "yesterday"}',
    b"\xff\xfe invalid utf-8 %d",
    b"[%d]",
)


def mixed_stream(comments: int, malformed: int, *, seed: int = 7, prefix: str = "") -> list[bytes]:
    """`comments` generated comments (ids prefixed with `prefix`) with `malformed` bad events
    spread evenly among them."""
    generated = generate(comments, seed=seed, malformed=0).events
    for e in generated:
        e["id"] = prefix + e["id"]
    events = [orjson.dumps(e) for e in generated]
    if malformed:
        step = max(1, len(events) // malformed)
        for i in range(malformed):
            bad = MALFORMED[i % len(MALFORMED)].replace(b"%d", str(i).encode())
            events.insert(min(len(events), i * step + i), bad)
    return events


async def _send(producer: AIOKafkaProducer, topic: str, value: bytes) -> None:
    """One event, acknowledged."""
    await (await producer.send(topic, value, key=event_key(value)))


@dataclass
class Feeder:
    """Publishes events at a steady rate from a thread, retrying each one until the brokers
    acknowledge it (acks=all), so a broker that dies and comes back loses nothing."""

    settings: Settings
    events: Sequence[bytes]
    rate: float  # events per second
    sent: int = 0
    retries: int = 0  # events sent again (each may be in the topic twice)
    done: threading.Event = field(default_factory=threading.Event)
    halted: threading.Event = field(default_factory=threading.Event)  # stop() was called
    error: BaseException | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Feeder:
        self._thread = threading.Thread(target=self._run, name="feeder", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._feed())
        except BaseException as exc:  # reported by wait()
            self.error = exc
        finally:
            self.done.set()

    async def _feed(self) -> None:
        """Sends a tenth of a second's events at a time without waiting for each acknowledgement
        (one at a time, acks=all on a replicated cluster cannot keep 200/s), then resends what
        failed until the brokers take it."""
        producer = await self._producer()
        topic = self.settings.topics.comments
        chunk = max(1, int(self.rate / 10))
        started = time.monotonic()
        try:
            for first in range(0, len(self.events), chunk):
                if self.halted.is_set():
                    break
                delay = started + first / self.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                todo = list(self.events[first : first + chunk])
                while todo:
                    outcomes = await asyncio.gather(
                        *[_send(producer, topic, value) for value in todo], return_exceptions=True
                    )
                    failed = []
                    for value, outcome in zip(todo, outcomes, strict=True):
                        if isinstance(outcome, KafkaError):  # broker down or moving leaders
                            failed.append(value)
                            error = outcome
                        elif isinstance(outcome, BaseException):
                            raise outcome
                    if failed:  # send them again: each may be written already, its ack lost
                        self.retries += len(failed)
                        log.info("feeder retry offset=%s count=%s error=%r", first, len(failed), error)
                        await asyncio.sleep(0.5)
                        with contextlib.suppress(Exception):
                            await producer.stop()
                        producer = await self._producer()
                    todo = failed
                self.sent = min(len(self.events), first + chunk)
        finally:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _producer(self) -> AIOKafkaProducer:
        while True:
            producer = AIOKafkaProducer(
                **client_options(self.settings), acks="all", linger_ms=5, request_timeout_ms=10_000
            )
            try:
                await producer.start()
                return producer
            except KafkaError:
                self.retries += 1
                with contextlib.suppress(Exception):
                    await producer.stop()
                await asyncio.sleep(0.5)

    def wait_sent(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.sent < count and not self.done.is_set():
            if time.monotonic() > deadline:
                raise AssertionError(f"feeder sent {self.sent} of {count} in {timeout:.0f} s")
            time.sleep(0.1)

    def stop(self) -> None:
        """Send nothing more (what was sent stays sent) and return once the feed has ended."""
        self.halted.set()
        self.wait(timeout=60)

    def wait(self, timeout: float) -> None:
        if not self.done.wait(timeout):
            raise AssertionError(f"feeder still sending after {timeout:.0f} s ({self.sent} sent)")
        if self.error is not None:
            raise AssertionError(f"feeder failed: {self.error!r}")


def audit_until_complete(
    settings: Settings, timeout: float, *, poll: float = 2.0
) -> tuple[AuditReport, float]:
    """Audit (grace 0) until no comment is missing or `timeout` passes; returns the last report
    and how long it took."""
    started = time.monotonic()
    while True:
        report = asyncio.run(run_audit(settings, grace=0.0))
        if report.ok or time.monotonic() - started > timeout:
            return report, time.monotonic() - started
        time.sleep(poll)


def _judgement(msg: dict[str, Any]) -> tuple[Any, ...]:
    """What must not change when a comment is judged again: action, labels, scores, reasons."""
    stages = msg.get("stages", {})
    return (
        msg.get("action"),
        tuple(
            (name, s.get("label"), s.get("score"), tuple(r["code"] for r in s.get("reasons", ())))
            for name, s in sorted(stages.items())
        ),
    )


def verdict_history(settings: Settings) -> tuple[dict[str, list[dict[str, Any]]], float]:
    """Every final verdict by comment id, and the time (epoch s) of the newest one."""
    out: dict[str, list[dict[str, Any]]] = {}
    newest = 0.0

    async def read() -> None:
        nonlocal newest
        async for record in read_span(settings, settings.topics.verdicts):
            msg = orjson.loads(record.value)
            out.setdefault(msg["comment_id"], []).append(msg)
            newest = max(newest, record.timestamp / 1000)

    asyncio.run(read())
    return out, newest


def inconsistent_rejudgements(history: dict[str, list[dict[str, Any]]]) -> dict[str, list[tuple[Any, ...]]]:
    """Comments judged more than once whose judgements differ."""
    out = {}
    for cid, msgs in history.items():
        kinds = {_judgement(m) for m in msgs}
        if len(kinds) > 1:
            out[cid] = sorted(kinds, key=repr)
    return out


def where_missing_stopped(settings: Settings, report: AuditReport) -> str:
    """For comments without a final verdict: the last verdict topic each reached, and where it
    sits in the next topic (partition@offset), so that a failure names the group that lost them."""
    missing = {m.comment_id for m in report.missing if m.comment_id}
    if not missing:
        return ""
    topics = settings.topics
    chain = [
        ("comments", topics.comments),
        ("links", topics.links),
        ("duplicates", topics.duplicates),
        ("spam", topics.spam),
    ]
    seen: dict[str, dict[str, list[str]]] = {}

    async def read() -> None:
        for name, topic in chain:
            async for record in read_span(settings, topic):
                cid = (record.key or b"").decode(errors="replace")
                if cid in missing:
                    seen.setdefault(cid, {}).setdefault(name, []).append(
                        f"p{record.partition}@{record.offset}"
                    )

    asyncio.run(read())
    lines = []
    for cid in sorted(missing)[:40]:
        hops = seen.get(cid, {})
        lines.append(f"  {cid}: " + " ".join(f"{name}={','.join(at)}" for name, at in hops.items()))
    last = Counter(
        max((n for n, _ in chain if n in seen.get(c, {})), key=[n for n, _ in chain].index, default="none")
        for c in missing
    )
    return f"missing comments last seen in: {dict(last)}\n" + "\n".join(lines)
