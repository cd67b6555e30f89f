"""The decide stage: verdicts.spam -> verdicts (approve / hold / reject with every reason)."""

from __future__ import annotations

import time
from typing import Any

from faust.types import EventT

from streamproc.events import Envelope
from streamproc.stages.common import StageContext, publish, stage_agent


def register(ctx: StageContext) -> Any:
    async def handle(env: Envelope, event: EventT) -> None:
        action, result = ctx.logic.decide(env)
        await publish(ctx, "verdicts", env, result, action=action)
        now = time.time()
        ctx.metrics.actions.labels(action).inc()
        ctx.metrics.end_to_end.observe(max(0.0, now - env.comment.posted_at))
        ctx.metrics.pipeline.observe(max(0.0, now - env.received_at))

    return stage_agent(ctx, "decide", ctx.topics["spam"], handle)
