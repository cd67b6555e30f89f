"""The final decision: approve, hold for review or reject, with every reason."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from streamproc.events import Reason, StageResult

VERSION = "decide-1"
STAGES = ("links", "duplicates", "spam")


@dataclass(slots=True, frozen=True)
class Thresholds:
    """Spam score at or above `hold` is held for a moderator; at or above `reject`, rejected."""

    hold: float = 0.5
    reject: float = 0.85


@dataclass(slots=True, frozen=True)
class SiteThresholds:
    """Thresholds per `site` of the comment, with a default for sites not listed."""

    default: Thresholds = Thresholds()
    sites: Mapping[str, Thresholds] = field(default_factory=dict)

    def for_site(self, site: str | None) -> Thresholds:
        return self.sites.get(site, self.default) if site else self.default


def decide(stages: Mapping[str, StageResult], thresholds: Thresholds) -> tuple[str, StageResult]:
    """Return (action, final result) from all stage results. A missing or failed stage holds it."""
    reasons: list[Reason] = []
    seen: set[tuple[str, str]] = set()  # the spam stage repeats upstream reasons it weighed
    for name in reversed(STAGES):
        result = stages.get(name)
        if result is None:
            reasons.append(Reason("decide.missing_stage", f"no result from stage {name}", 0.0, name))
            continue
        for r in result.reasons:
            if (r.code, r.text) not in seen:
                seen.add((r.code, r.text))
                reasons.append(r)
    spam = stages.get("spam")
    score = spam.score if spam else 0.0
    dup = stages.get("duplicates")
    if any(r.code in ("decide.missing_stage", "stage.error") for r in reasons):
        action = "hold"  # a moderator decides what the machine could not
    elif score >= thresholds.reject:
        action = "reject"
    elif score >= thresholds.hold:
        action = "hold"
    elif dup is not None and dup.label == "empty":
        action = "reject"
        reasons.append(Reason("decide.empty", "nothing to publish", 0.0))
    else:
        action = "approve"
    label = spam.label if spam else "unknown"
    if dup is not None and dup.label == "empty":
        label = "empty"
    return action, StageResult("decide", label, score, reasons, VERSION, {"action": action})
