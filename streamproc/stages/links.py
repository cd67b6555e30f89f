"""The links stage: every URL in the comment (detect/links.py), then the domain-campaign evidence
from the sightings kept under the comment's primary domain (keyed state "campaigns")."""

from __future__ import annotations

from typing import Any

from streamproc.config import Settings
from streamproc.detect.campaigns import Sightings, observe
from streamproc.detect.links import DomainListsFile, assess_links, campaign_domain, with_campaign
from streamproc.events import Envelope, StageResult
from streamproc.stages.stage import ApplyContext, Op
from streamproc.state import Shard
from streamproc.topology import STAGES, state_partition

SPEC = STAGES[0]


class LinksStage:
    spec = SPEC

    def __init__(self, settings: Settings) -> None:
        self.lists = DomainListsFile(settings.domain_lists)  # re-read when the file changes

    def prepare(self, env: Envelope) -> tuple[StageResult, str | None]:
        found = assess_links(env.comment.text, self.lists.current())
        return found, campaign_domain(found)

    def ops(self, env: Envelope, prepared: tuple[StageResult, str | None], partitions: int) -> list[Op]:
        _, domain = prepared
        if domain is None:
            return []
        c = env.comment
        payload = [domain, c.id, c.author_key, c.thread_id, c.posted_at]
        return [Op("campaigns", state_partition(domain, partitions), payload)]

    def finish(
        self, env: Envelope, prepared: tuple[StageResult, str | None], results: list[Any]
    ) -> StageResult:
        found, domain = prepared
        if domain is None or not results:
            return found
        return with_campaign(found, domain, Sightings(*results[0]))


def apply_campaign(shard: Shard, payload: list[Any], ctx: ApplyContext) -> list[int]:
    """Record one comment linking a domain; the domain's sightings in the window, this one included."""
    domain, comment_id, author, thread_id, at = payload
    seen = observe(shard.rows("campaigns"), domain, comment_id, author, thread_id, at)
    return [seen.comments, seen.authors, seen.threads]
