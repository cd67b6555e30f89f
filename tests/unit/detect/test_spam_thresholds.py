"""Per-site thresholds (STREAMPROC_SITE_THRESHOLDS) and the model file used by `check`."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamproc.config import Settings, load_settings
from streamproc.detect.decide import SiteThresholds, Thresholds, decide
from streamproc.detect.model import LinearModel
from streamproc.errors import ConfigError
from streamproc.events import Envelope, StageResult, comment_from_dict
from streamproc.pipeline import OfflinePipeline
from streamproc.stages.spam import load_spam_model

SITES = '{"news.example": {"hold": 0.4, "reject": 0.8}, "forum.example": {"reject": 0.95}}'


def test_site_thresholds_from_the_environment() -> None:
    settings = load_settings({"STREAMPROC_SITE_THRESHOLDS": SITES})
    assert settings.thresholds_by_site() == {"news.example": (0.4, 0.8), "forum.example": (0.5, 0.95)}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be an object"),
        ('{"a": {"hold": 0.9, "reject": 0.5}}', "0 < hold <= reject <= 1"),
        ('{"a": {"hold": "high"}}', "must be numbers"),
        ('{"a": {"hodl": 0.3}}', "with hold and/or reject"),
    ],
)
def test_bad_site_thresholds_are_rejected_at_load(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({"STREAMPROC_SITE_THRESHOLDS": raw})


def _stages(score: float) -> dict[str, StageResult]:
    return {
        "links": StageResult("links", "clean", 0.0),
        "duplicates": StageResult("duplicates", "unique", 0.0),
        "spam": StageResult("spam", "ham", score),
    }


@pytest.mark.parametrize(
    ("site", "score", "action"),
    [
        ("news.example", 0.45, "hold"),
        ("news.example", 0.82, "reject"),
        ("forum.example", 0.9, "hold"),
        ("other.example", 0.45, "approve"),
        (None, 0.86, "reject"),
    ],
)
def test_decide_uses_the_comment_site(site: str | None, score: float, action: str) -> None:
    decide_stage = OfflinePipeline(Settings(site_thresholds=SITES)).stage("decide")
    event = {"id": "c", "thread_id": "t", "text": "x", "posted_at": "2026-01-01T00:00:00Z", "site": site}
    env = Envelope(comment_from_dict({k: v for k, v in event.items() if v is not None}), _stages(score), 0.0)
    assert decide_stage.finish(env, None, []).data["action"] == action


def test_site_thresholds_object() -> None:
    t = SiteThresholds(Thresholds(0.5, 0.9), {"a": Thresholds(0.2, 0.3)})
    assert t.for_site("a") == Thresholds(0.2, 0.3) and t.for_site("b") == t.default == t.for_site(None)
    assert decide(_stages(0.25), t.for_site("a"))[0] == "hold"


def test_spam_label_follows_the_site_thresholds() -> None:
    text = "Read more at our page"  # one call to action: 0.4
    for site, label in (("news.example", "suspicious"), ("other.example", "ham")):
        event = {"id": "c", "thread_id": "t", "text": text, "posted_at": "2026-01-01T00:00:00Z", "site": site}
        env = Envelope(comment_from_dict(event), {}, 0.0)
        OfflinePipeline(Settings(site_thresholds=SITES)).run(env)
        result = env.stages["spam"]
        assert result.score == pytest.approx(0.4) and result.label == label, (site, result.score)


def test_check_uses_the_model_file(tmp_path: Path) -> None:
    model = LinearModel.untrained()
    model.version = 7
    path = tmp_path / "spam.model"
    path.write_bytes(model.to_bytes())
    pipeline = OfflinePipeline(Settings(spam_model=str(path)))
    env = Envelope(
        comment_from_dict({"id": "c", "thread_id": "t", "text": "hi", "posted_at": "2026-01-01T00:00:00Z"}),
        {},
        0.0,
    )
    pipeline.run(env)
    assert env.stages["spam"].version == "spam-model-7" and env.stages["spam"].data["model_version"] == 7


def test_missing_model_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="spam_model file"):
        load_spam_model(str(tmp_path / "nope"))
