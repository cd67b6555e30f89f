"""The duplicates stage: verdicts.links -> (re-keyed by fingerprint) -> verdicts.duplicates.

The index is a Faust table keyed by fingerprint, so it spreads over partitions and is recovered
from its changelog when a worker restarts or takes over a partition. The re-keying hop puts every
comment on the partition that owns its fingerprint.
"""

from __future__ import annotations

from typing import Any

from faust.types import EventT

from streamproc.events import Envelope
from streamproc.stages.common import StageContext, publish, raw_topic, stage_agent


def register(ctx: StageContext) -> list[Any]:
    s = ctx.settings
    by_fingerprint = raw_topic(
        ctx.app, f"{s.app_id}-duplicates-by-fingerprint", internal=True, partitions=s.partitions
    )
    index = ctx.app.Table("duplicates-index", default=list, key_type=str, partitions=s.partitions)

    async def rekey(env: Envelope, event: EventT) -> None:
        key = ctx.logic.duplicate_key(env) or f"comment:{env.comment.id}"
        await by_fingerprint.send(key=key.encode(), value=event.value)

    async def check(env: Envelope, event: EventT) -> None:
        key = ctx.logic.duplicate_key(env)
        result = ctx.logic.duplicates(env, key, index)
        await publish(ctx, "duplicates", env, result)

    @ctx.app.timer(10.0)
    async def state_size() -> None:
        ctx.metrics.state_entries.set(len(index))

    return [
        stage_agent(ctx, "duplicates", ctx.topics["links"], rekey),
        stage_agent(ctx, "duplicates-index", by_fingerprint, check),
    ]
