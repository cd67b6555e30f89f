"""The duplicates stage: fingerprint the comment (detect/duplicates.py `probe`), check its index
keys against the shards of the duplicate index that own them (keyed state "index": one operation
per involved partition, with the keys that live there), then combine the matches into the verdict.
See docs/duplicates.md for the method, the state and its bounds."""

from __future__ import annotations

from typing import Any

from streamproc.config import Settings
from streamproc.detect.duplicates import (
    DuplicateConfig,
    Match,
    Probe,
    empty_result,
    is_empty,
    keys_by_partition,
    probe,
    verdict,
)
from streamproc.events import Envelope, StageResult
from streamproc.stages.stage import ApplyContext, Op
from streamproc.state import Shard
from streamproc.topology import STAGES

SPEC = STAGES[1]
EMPTY = "empty"  # prepared value of an empty or junk comment: no keys, no state


def duplicate_config(settings: Settings) -> DuplicateConfig:
    return DuplicateConfig(
        window=settings.duplicate_window,
        threshold=settings.duplicate_threshold,
        max_comments=settings.duplicate_max_comments,
    )


class DuplicatesStage:
    spec = SPEC

    def __init__(self, settings: Settings) -> None:
        self.config = duplicate_config(settings)

    def prepare(self, env: Envelope) -> Probe | str | None:
        c = env.comment
        if is_empty(c.text):
            return EMPTY
        return probe(self.config, c.id, c.author_key, c.thread_id, c.posted_at, c.text)

    def ops(self, env: Envelope, prepared: Probe | str | None, partitions: int) -> list[Op]:
        if not isinstance(prepared, Probe):
            return []
        # The probe itself: served here as it is, encoded (`wire`) only if it goes to another worker.
        groups = keys_by_partition(prepared.keys, partitions)
        return [Op("index", q, [prepared, keys]) for q, keys in groups.items()]

    def finish(self, env: Envelope, prepared: Probe | str | None, results: list[Any]) -> StageResult:
        if prepared == EMPTY:
            return empty_result()
        p = prepared if isinstance(prepared, Probe) else None
        return verdict(p, [Match.from_list(m) for shard in results for m in shard])


def apply_index(shard: Shard, payload: list[Any], ctx: ApplyContext) -> list[list[Any]]:
    """Check the keys this shard owns and remember the comment; the matches it found."""
    p, keys = payload
    if not isinstance(p, Probe):  # from another worker: see `wire`
        p = Probe.from_dict(p)
    matches = shard.duplicates.match_and_index(p, keys, wall=ctx.wall, on_evict=ctx.on_evict)
    return [m.to_list() for m in matches]


def wire(value: Any) -> Any:
    """JSON for what a state request carries besides JSON values: the duplicate probe."""
    if isinstance(value, Probe):
        return value.to_dict()
    raise TypeError(f"{type(value).__name__} cannot go into a state request")
