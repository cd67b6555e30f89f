"""What a stage is: three steps around its detection core, so that consecutive stages run chained
in one pass and all of a comment's keyed state is reached in one scatter and one gather.

1. `prepare(env)`: the stateless work (extract links, fingerprint, find the author).
2. `ops(env, prepared, partitions)`: the keyed-state operations the comment needs, each bound to
   the state partition that owns its key. They run where that partition lives (`apply`, in place
   or on the worker that owns it) and return JSON values.
3. `finish(env, prepared, results)`: the stage's verdict from the prepared work and the results.

Stages know nothing of Kafka or Faust; chain.py runs them, stream.py wires them to Faust.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from streamproc.events import Envelope, Reason, StageResult
from streamproc.state import Shard
from streamproc.topology import StageSpec


@dataclass(frozen=True, slots=True)
class Op:
    """One keyed-state operation: the state kind, the partition that owns it, what to do (JSON)."""

    kind: str
    partition: int
    payload: Any


@dataclass(slots=True)
class ApplyContext:
    """What a state operation may need besides its shard: the wall clock (bounds a far-future
    event time) and where to count evictions."""

    wall: float
    on_evict: Callable[[str], None] | None = None


Apply = Callable[[Shard, Any, ApplyContext], Any]


class Stage(Protocol):
    spec: StageSpec

    def prepare(self, env: Envelope) -> Any: ...

    def ops(self, env: Envelope, prepared: Any, partitions: int) -> list[Op]: ...

    def finish(self, env: Envelope, prepared: Any, results: list[Any]) -> StageResult: ...


class StateOpError(Exception):
    """A keyed-state operation failed where it ran; carries that side's error text."""


def error_result(stage: str, exc: BaseException) -> StageResult:
    """What a stage reports when it failed on a comment: no score, and why (the comment is held)."""
    reason = Reason("stage.error", f"stage {stage} failed: {type(exc).__name__}", 0.0, stage)
    return StageResult(stage, "error", 0.0, [reason], "error", {})
