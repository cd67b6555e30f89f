"""The spam stage: score every signal (detect/spam.py) with the model in force, using the author's
recent activity (keyed state "authors": posting rate, first sighting). The model is shared state
on the compacted model topic (clients.ModelFollower keeps `model` current; feedback.py turns
moderators' labels into new versions)."""

from __future__ import annotations

from typing import Any

import orjson

from streamproc.config import Settings
from streamproc.detect.decide import SiteThresholds, Thresholds
from streamproc.detect.features import AuthorActivity, Feature, observe_author
from streamproc.detect.links import assess_links
from streamproc.detect.model import LinearModel
from streamproc.detect.spam import score_spam, spam_input
from streamproc.errors import ConfigError, DecodeError
from streamproc.events import Envelope, StageResult, comment_from_dict
from streamproc.stages.stage import ApplyContext, Op
from streamproc.state import Shard
from streamproc.topology import STAGES, state_partition

MAX_AUTHOR_ANSWERS = 256  # answers kept for comments whose rows left the history (re-delivery)
SPEC = STAGES[2]


def site_thresholds(settings: Settings) -> SiteThresholds:
    default = Thresholds(settings.hold_threshold, settings.reject_threshold)
    return SiteThresholds(default, {k: Thresholds(*v) for k, v in settings.thresholds_by_site().items()})


def load_spam_model(path: str) -> LinearModel:
    """The spam model from a file written by `streamproc train`; empty path: rules only."""
    if not path:
        return LinearModel.untrained()
    try:
        with open(path, "rb") as f:
            return LinearModel.from_bytes(f.read())
    except OSError as exc:
        raise ConfigError(f"spam_model file {path!r} could not be read: {exc}") from None


class SpamStage:
    spec = SPEC

    def __init__(self, settings: Settings) -> None:
        self.thresholds = site_thresholds(settings)
        self.model = load_spam_model(settings.spam_model)  # replaced as the model topic moves on

    def prepare(self, env: Envelope) -> str | None:
        return env.comment.author_key

    def ops(self, env: Envelope, prepared: str | None, partitions: int) -> list[Op]:
        if prepared is None:
            return []
        payload = [prepared, env.comment.id, env.comment.posted_at]
        return [Op("authors", state_partition(prepared, partitions), payload)]

    def finish(self, env: Envelope, prepared: str | None, results: list[Any]) -> StageResult:
        activity = AuthorActivity(*results[0]) if results else None
        c = env.comment
        return score_spam(
            c, env.stages, model=self.model, activity=activity, thresholds=self.thresholds.for_site(c.site)
        )


def apply_author(shard: Shard, payload: list[Any], ctx: ApplyContext) -> list[Any]:
    """Record one comment of an author; what the author's history says about it.

    The answer is kept with the comment's row, so a re-delivered comment gets the same answer even
    after the author posted more (at-least-once delivery must not change a verdict). A row that
    falls out of the bounded history leaves its answer behind ([comment_id, None, answer...]):
    a prolific author may post more than MAX_AUTHOR_ROWS comments before one is read again.
    """
    author, comment_id, at = payload
    rows = shard.rows("authors")
    history = rows.get(author, [])
    if comment_id in [r[0] for r in history]:  # cheaper than the loop: most comments are new
        for row in history:
            if row[0] == comment_id and len(row) >= 4:
                return [row[2], row[3]]
    live = [r for r in history if r[1] is not None]
    answers = [r for r in history if r[1] is None]
    activity, kept = observe_author(live, comment_id, at)
    for row in reversed(kept):  # the new row, newest as a rule (only one has its id)
        if row[0] == comment_id:
            row[2:] = [activity.first_seen, activity.recent]
            break
    if len(kept) <= len(live):  # rows left the history (else every live row is kept)
        still = {row[0] for row in kept}
        answers += [[r[0], None, *r[2:4]] for r in live if len(r) >= 4 and r[0] not in still]
    rows[author] = kept + answers[-MAX_AUTHOR_ANSWERS:]
    return [activity.first_seen, activity.recent]


def feedback_example(value: bytes, lists: Any = None) -> tuple[str, list[Feature], int]:
    """Model features and label of one feedback event (`comment_id`, `label`, `moderator`, `at`,
    optional `text` and the rest of the comment, flat or under `comment`)."""
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("invalid_json", f"feedback is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise DecodeError("not_object", "feedback must be a JSON object")
    label = obj.get("label")
    if label not in ("spam", "ham"):
        raise DecodeError("bad_label", f"feedback label must be spam or ham, got {str(label)[:20]!r}")
    inner = obj.get("comment") if isinstance(obj.get("comment"), dict) else {}
    event = {**obj, **inner}
    text = event.get("text")
    if not isinstance(text, str) or not text.strip():
        raise DecodeError("no_text", "feedback without the comment text cannot teach the model")
    event.setdefault("id", str(obj.get("comment_id") or "feedback"))
    event.setdefault("thread_id", "feedback")
    event.setdefault("posted_at", obj.get("at") or "1970-01-01T00:00:00Z")
    comment = comment_from_dict(event)
    stages = {"links": assess_links(comment.text, lists)}
    key = f"{comment.id}:{label}:{obj.get('moderator', '')}"
    return key, spam_input(comment, stages, None).features, 1 if label == "spam" else 0
