"""The links stage: comments -> verdicts.links."""

from __future__ import annotations

from typing import Any

from faust.types import EventT

from streamproc.events import Envelope
from streamproc.stages.common import StageContext, new_envelope, publish, stage_agent


def register(ctx: StageContext) -> Any:
    async def handle(env: Envelope, event: EventT) -> None:
        await publish(ctx, "links", env, ctx.logic.links(env))

    return stage_agent(ctx, "links", ctx.topics["comments"], handle, decode=new_envelope)
