"""The links stage: comments -> (re-keyed by registrable domain) -> verdicts.links.

The first agent finds the links; every comment then goes, with its findings, to an internal topic
keyed by its primary registrable domain (by comment id when it has no link), so that the partition
owning a domain's campaign state (a Faust table, recovered from its changelog) sees every comment
linking it. The second agent adds the campaign evidence and publishes.

Comments without links take the hop too: publishing them at once would let them overtake earlier
comments with links, and the later stages' verdicts (duplicates, author rate) depend on arrival
order; through one hop, a single-partition deployment keeps the input order, so its verdicts are
exactly those of the offline `streamproc check`.
"""

from __future__ import annotations

from typing import Any

from faust.types import EventT

from streamproc.detect.campaigns import stale_domains
from streamproc.detect.links import primary_domain
from streamproc.events import Envelope, encode, stage_message
from streamproc.stages.common import StageContext, Sweeper, new_envelope, publish, raw_topic, stage_agent

# Campaign events between sweeps for domains nobody has linked within the window: without them the
# table would keep one (bounded) entry per domain ever linked.
SWEEP_EVERY = 1000


def register(ctx: StageContext) -> list[Any]:
    s = ctx.settings
    by_domain = raw_topic(ctx.app, f"{s.app_id}-links-by-domain", internal=True, partitions=s.partitions)
    campaigns = ctx.app.Table("links-campaigns", default=list, key_type=str, partitions=s.partitions)

    async def find(env: Envelope, event: EventT) -> None:
        found = ctx.logic.link_findings(env)
        key = primary_domain(found) or f"comment:{env.comment.id}"
        # The findings travel with the comment so the second agent does not extract again.
        await by_domain.send(key=key.encode(), value=encode(stage_message(env, found)))

    sweeper = Sweeper(campaigns, s.partitions, stale_domains, SWEEP_EVERY)

    async def campaign(env: Envelope, event: EventT) -> None:
        found = env.stages["links"]
        await publish(ctx, "links", env, ctx.logic.link_campaign(env, found, campaigns))
        sweeper.after(event, env.comment.posted_at)

    return [
        stage_agent(ctx, "links", ctx.topics["comments"], find, decode=new_envelope),
        stage_agent(ctx, "links-campaigns", by_domain, campaign),
    ]
