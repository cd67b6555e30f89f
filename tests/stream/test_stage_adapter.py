"""The stage adapter in Faust's test context (no broker): bad input to the DLQ, failures still
reach a decision, and the counters move. Outbound topics are strict recording doubles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import faust
import orjson

from streamproc.config import Settings
from streamproc.events import Envelope, decode_stage_message
from streamproc.metrics import Metrics
from streamproc.pipeline import StageLogic
from streamproc.stages.common import StageContext, new_envelope, stage_agent

COMMENT = {"id": "c1", "thread_id": "t1", "text": "hi", "posted_at": "2026-11-23T10:00:00Z"}


@dataclass
class RecordingTopic:
    """Stands in for an outbound faust topic: accepts exactly the send() the adapter uses."""

    sent: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, *, key: bytes | None, value: bytes, headers: dict[str, bytes] | None = None) -> None:
        self.sent.append({"key": key, "value": value, "headers": headers or {}})


def _context() -> tuple[StageContext, dict[str, RecordingTopic]]:
    app = faust.App("test-stage-adapter", store="memory://", autodiscover=False, web_enabled=False)
    topics = {role: RecordingTopic() for role in ("dlq", "links", "duplicates", "spam", "verdicts")}
    ctx = StageContext(app, Settings(), topics, Metrics(), StageLogic(Settings()))  # type: ignore[arg-type]
    return ctx, topics


async def test_undecodable_input_goes_to_dlq_with_reason() -> None:
    ctx, topics = _context()

    async def handle(env: Envelope, event: Any) -> None:
        raise AssertionError("must not be called for bad input")

    agent = stage_agent(ctx, "links", ctx.app.topic("in"), handle, decode=new_envelope)
    async with agent.test_context() as test_agent:
        await test_agent.put(b"{broken")
        await test_agent.put(orjson.dumps({"id": "x"}))
    reasons = [m["headers"]["streamproc-error-reason"] for m in topics["dlq"].sent]
    assert reasons == [b"invalid_json", b"missing_field"]
    assert topics["dlq"].sent[0]["value"] == b"{broken"
    assert ctx.metrics.dead_letters.labels("links", "invalid_json")._value.get() == 1


async def test_a_failing_stage_dead_letters_and_still_publishes_an_error_result() -> None:
    ctx, topics = _context()

    async def handle(env: Envelope, event: Any) -> None:
        raise ValueError("boom")

    agent = stage_agent(ctx, "links", ctx.app.topic("in"), handle, decode=new_envelope, fallback="links")
    async with agent.test_context() as test_agent:
        await test_agent.put(orjson.dumps(COMMENT))
    assert [m["headers"]["streamproc-error-reason"] for m in topics["dlq"].sent] == [b"stage_error"]
    (published,) = topics["links"].sent
    env = decode_stage_message(published["value"])
    assert env.stages["links"].label == "error"
    assert env.stages["links"].reasons[0].code == "stage.error"
    assert ctx.metrics.errors.labels("links", "ValueError")._value.get() == 1


def test_sweeper_deletes_only_stale_keys_of_the_event_partition() -> None:
    from types import SimpleNamespace

    from streamproc.stages.common import Sweeper, partition_of

    keys = [f"k{i}" for i in range(40)]
    table = {k: i for i, k in enumerate(keys)}
    event = SimpleNamespace(message=SimpleNamespace(partition=1))

    def stale(items: Any, now: float) -> list[str]:
        return [k for k, v in items if v < now]

    sweeper = Sweeper(table, 4, stale, every=2)
    sweeper.after(event, 30.0)  # type: ignore[arg-type]
    assert len(table) == 40  # not yet: every second event
    sweeper.after(event, 30.0)  # type: ignore[arg-type]
    gone = set(keys) - set(table)
    assert gone == {k for k in keys if partition_of(k, 4) == 1 and table.get(k, int(k[1:])) < 30}
    assert gone and all(partition_of(k, 4) == 1 for k in gone)
