"""What every stage adapter shares: its context, dead-lettering and publishing."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import faust
from aiokafka.partitioner import murmur2
from faust.types import EventT

from streamproc.config import Settings
from streamproc.errors import DecodeError
from streamproc.events import Envelope, Reason, StageResult, decode_stage_message, encode, stage_message
from streamproc.metrics import Metrics
from streamproc.pipeline import StageLogic

log = logging.getLogger("streamproc.stages")


@dataclass(slots=True)
class StageContext:
    app: faust.App
    settings: Settings
    topics: dict[str, faust.TopicT]  # by role: comments, dlq, links, duplicates, spam, verdicts
    metrics: Metrics
    logic: StageLogic


def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2) gives a key."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


@dataclass(slots=True)
class Sweeper:
    """Deletes a table's stale keys every `every` events, only the keys that the current event's
    partition owns: a delete goes to that partition's changelog, so it must be the owner's."""

    table: Any
    partitions: int
    stale: Callable[[Iterable[tuple[str, Any]], float], Iterable[str]]
    every: int = 1000
    seen: int = 0

    def after(self, event: EventT, now: float) -> None:
        self.seen += 1
        if self.seen % self.every:
            return
        partition = event.message.partition
        mine = [(k, v) for k, v in self.table.items() if partition_of(k, self.partitions) == partition]
        for key in list(self.stale(mine, now)):
            del self.table[key]


def raw_topic(app: faust.App, name: str, *, internal: bool = False, partitions: int | None = None) -> Any:
    """A topic of bytes in and bytes out: streamproc decodes with orjson itself, once, so that
    undecodable input reaches the dead-letter topic instead of Faust's error log."""
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        internal=internal,
        partitions=partitions,
    )


async def dead_letter(ctx: StageContext, stage: str, event: EventT, reason: str, message: str) -> None:
    """Publish the original bytes to the dead-letter topic with what was wrong and where."""
    msg = event.message
    headers = {
        "streamproc-error-reason": reason.encode(),
        "streamproc-error-message": message[:1000].encode(),
        "streamproc-stage": stage.encode(),
        "streamproc-source-topic": str(msg.topic).encode(),
        "streamproc-source-partition": str(msg.partition).encode(),
        "streamproc-source-offset": str(msg.offset).encode(),
    }
    await ctx.topics["dlq"].send(
        key=msg.key, value=msg.value if msg.value is not None else b"", headers=headers
    )
    ctx.metrics.dead_letters.labels(stage, reason).inc()
    log.warning(
        "dead_letter stage=%s reason=%s topic=%s partition=%s offset=%s",
        stage,
        reason,
        msg.topic,
        msg.partition,
        msg.offset,
    )


async def publish(
    ctx: StageContext, role: str, env: Envelope, result: StageResult, action: str | None = None
) -> None:
    value = encode(stage_message(env, result, action=action))
    await ctx.topics[role].send(key=env.comment.id.encode(), value=value)
    ctx.metrics.verdicts.labels(result.stage, result.label).inc()


Handler = Callable[[Envelope, EventT], Awaitable[None]]


def stage_agent(
    ctx: StageContext,
    stage: str,
    source: Any,
    handle: Handler,
    decode: Callable[[bytes], Envelope] = decode_stage_message,
    fallback: str | None = None,
) -> Any:
    """Register an agent that decodes each message, calls `handle`, and dead-letters on error.

    When `handle` fails on a valid comment, the message goes to the dead-letter topic and, if
    `fallback` names the stage's output role, an "error" result for that stage is published
    there, so the comment still reaches a final decision (held, with the reason) instead of
    waiting forever. One message at a time (concurrency 1): Faust may commit past in-flight
    messages otherwise.
    """

    ctx.metrics.init_stage(stage)

    async def run(stream: faust.StreamT) -> None:
        async for event in stream.events():
            ctx.metrics.consumed.labels(stage).inc()
            try:
                env = decode(event.value)
            except DecodeError as exc:
                await dead_letter(ctx, stage, event, exc.reason, str(exc))
                continue
            try:
                with ctx.metrics.timed(stage):
                    await handle(env, event)
            except Exception as exc:  # a bug or bad state must not stop the stream
                ctx.metrics.errors.labels(stage, type(exc).__name__[:40]).inc()
                log.exception("stage_error stage=%s comment_id=%s", stage, env.comment.id)
                await dead_letter(ctx, stage, event, "stage_error", f"{type(exc).__name__}: {exc}")
                if fallback is not None:
                    await publish(ctx, fallback, env, error_result(fallback, exc))

    run.__name__ = f"{stage}_stage"
    return ctx.app.agent(source, name=stage, concurrency=1)(run)


def error_result(stage: str, exc: Exception) -> StageResult:
    """What a stage reports when it failed on a comment: no score, and why."""
    reason = Reason("stage.error", f"stage {stage} failed: {type(exc).__name__}", 0.0, stage)
    return StageResult(stage, "error", 0.0, [reason], "error", {})


def new_envelope(data: bytes) -> Envelope:
    """First stage: decode and validate the producer's comment event."""
    from streamproc.events import decode_comment

    return Envelope(decode_comment(data), {}, time.time())
