"""The spam stage: verdicts.duplicates -> verdicts.spam."""

from __future__ import annotations

from typing import Any

from faust.types import EventT

from streamproc.events import Envelope
from streamproc.stages.common import StageContext, publish, stage_agent


def register(ctx: StageContext) -> Any:
    async def handle(env: Envelope, event: EventT) -> None:
        await publish(ctx, "spam", env, ctx.logic.spam(env))

    return stage_agent(ctx, "spam", ctx.topics["duplicates"], handle)
