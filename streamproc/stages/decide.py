"""The decide stage: approve / hold / reject from every stage's result (detect/decide.py)."""

from __future__ import annotations

from typing import Any

from streamproc.config import Settings
from streamproc.detect.decide import decide
from streamproc.events import Envelope, StageResult
from streamproc.stages.spam import site_thresholds
from streamproc.stages.stage import Op
from streamproc.topology import STAGES

SPEC = STAGES[3]


class DecideStage:
    spec = SPEC

    def __init__(self, settings: Settings) -> None:
        self.thresholds = site_thresholds(settings)

    def prepare(self, env: Envelope) -> None:
        return None

    def ops(self, env: Envelope, prepared: None, partitions: int) -> list[Op]:
        return []

    def finish(self, env: Envelope, prepared: None, results: list[Any]) -> StageResult:
        _, result = decide(env.stages, self.thresholds.for_site(env.comment.site))
        return result  # the action is in result.data["action"]
