"""The final decision from stage results."""

from __future__ import annotations

import pytest

from streamproc.detect.decide import Thresholds, decide
from streamproc.events import Reason, StageResult

T = Thresholds(hold=0.5, reject=0.85)


def _stages(spam: float, dup_label: str = "unique", links_label: str = "clean") -> dict[str, StageResult]:
    link_reasons = [Reason("link.shortener", "shortened link: bit.ly", 0.5, "bit.ly")]
    return {
        "links": StageResult("links", links_label, 0.5, link_reasons),
        "duplicates": StageResult("duplicates", dup_label, 0.0),
        # the spam stage repeats the upstream reason it weighed
        "spam": StageResult("spam", "spam" if spam >= 0.7 else "ham", spam, list(link_reasons)),
    }


@pytest.mark.parametrize(
    ("spam", "action"), [(0.0, "approve"), (0.49, "approve"), (0.5, "hold"), (0.84, "hold"), (0.85, "reject")]
)
def test_thresholds_pick_the_action(spam: float, action: str) -> None:
    got, result = decide(_stages(spam), T)
    assert got == action
    assert result.score == spam and result.data["action"] == action


def test_reasons_are_listed_once() -> None:
    _, result = decide(_stages(0.9), T)
    assert [r.code for r in result.reasons] == ["link.shortener"]


def test_empty_comment_is_rejected_as_empty() -> None:
    action, result = decide(_stages(0.1, dup_label="empty"), T)
    assert (action, result.label) == ("reject", "empty")


def test_missing_or_failed_stage_holds() -> None:
    stages = _stages(0.0)
    del stages["duplicates"]
    action, result = decide(stages, T)
    assert action == "hold" and "decide.missing_stage" in {r.code for r in result.reasons}
    failed = _stages(0.0)
    failed["links"] = StageResult("links", "error", 0.0, [Reason("stage.error", "stage links failed", 0.0)])
    assert decide(failed, T)[0] == "hold"
