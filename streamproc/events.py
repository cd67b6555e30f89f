"""The published event contracts: Comment (input), Reason, StageResult and verdicts (output).

Everything on the wire is JSON encoded with orjson. A comment is validated here once, at the
first stage; later stages receive it inside a stage message and trust it. The JSON Schema in
`streamproc/schemas/comment.schema.json` describes the same contract for producers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from streamproc.errors import DecodeError

# Limits. Generous for real comments, small enough that one event cannot hurt a worker.
MAX_EVENT_BYTES = 256 * 1024  # whole encoded event
MAX_TEXT_CHARS = 64 * 1024  # longest comment text kept; longer is rejected, not cut
MAX_ID_CHARS = 256  # ids: comment, thread, parent, author
MAX_SHORT_CHARS = 1024  # names, urls, user agents, site, lang, hashes, ip
MAX_DEPTH = 32  # nesting of objects and arrays in the event (metadata, unknown fields)

ID_FIELDS = ("id", "thread_id")
OPTIONAL_STRING_FIELDS = {
    "parent_id": MAX_ID_CHARS,
    "thread_url": MAX_SHORT_CHARS,
    "user_agent": MAX_SHORT_CHARS,
    "lang": 35,  # BCP 47 tags are at most 35 characters
    "site": MAX_ID_CHARS,
}
AUTHOR_FIELDS = {"id": MAX_ID_CHARS, "name": MAX_SHORT_CHARS, "email_hash": 128, "ip": 64}

ACTIONS = ("approve", "hold", "reject")


@dataclass(slots=True, frozen=True)
class Author:
    id: str | None = None
    name: str | None = None
    email_hash: str | None = None
    ip: str | None = None


@dataclass(slots=True, frozen=True)
class Comment:
    """A validated comment event. `raw` is the decoded object as sent, unknown fields included."""

    id: str
    thread_id: str
    text: str
    posted_at: float  # epoch seconds
    author: Author
    site: str | None
    thread_published_at: float | None
    raw: dict[str, Any]

    @property
    def author_key(self) -> str | None:
        """The best stable identity of the author: id, else name."""
        return self.author.id or self.author.name


def parse_time(value: Any, name: str) -> float:
    """Parse an RFC 3339 timestamp to epoch seconds; a naive time is rejected."""
    if not isinstance(value, str):
        raise DecodeError("bad_type", f"{name} must be an RFC 3339 string, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise DecodeError("bad_timestamp", f"{name} is not an RFC 3339 timestamp: {value[:64]!r}") from None
    if parsed.tzinfo is None:
        raise DecodeError("bad_timestamp", f"{name} has no time zone offset: {value[:64]!r}")
    return parsed.timestamp()


def _string(obj: dict[str, Any], name: str, limit: int, *, required: bool, where: str = "") -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise DecodeError("missing_field", f"required field {where}{name} is missing")
        return None
    if not isinstance(value, str):
        raise DecodeError("bad_type", f"{where}{name} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise DecodeError("field_too_long", f"{where}{name} has {len(value)} characters, limit {limit}")
    return value


def comment_from_dict(obj: Any, *, nesting_checked: bool = False) -> Comment:
    """Validate a decoded JSON value as a comment event (`nesting_checked`: the caller knows it
    nests no deeper than MAX_DEPTH)."""
    if not isinstance(obj, dict):
        raise DecodeError("not_object", f"a comment must be a JSON object, got {type(obj).__name__}")
    for name in ID_FIELDS:
        if not _string(obj, name, MAX_ID_CHARS, required=True):
            raise DecodeError("missing_field", f"required field {name} is empty")
    text = obj.get("text")
    if not isinstance(text, str):
        reason = "missing_field" if text is None else "bad_type"
        raise DecodeError(reason, "required field text must be a string (it may be empty)")
    if len(text) > MAX_TEXT_CHARS:
        raise DecodeError("text_too_long", f"text has {len(text)} characters, limit {MAX_TEXT_CHARS}")
    if "posted_at" not in obj:
        raise DecodeError("missing_field", "required field posted_at is missing")
    posted_at = parse_time(obj["posted_at"], "posted_at")
    for name, limit in OPTIONAL_STRING_FIELDS.items():
        value = obj.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            _string(obj, name, limit, required=False)  # raises the error
    published = obj.get("thread_published_at")
    thread_published_at = None if published is None else parse_time(published, "thread_published_at")
    author_obj = obj.get("author")
    if author_obj is None:
        author = Author()
    elif isinstance(author_obj, dict):
        author = Author(
            **{
                k: _string(author_obj, k, n, required=False, where="author.")
                for k, n in AUTHOR_FIELDS.items()
            }
        )
    else:
        raise DecodeError("bad_type", f"author must be an object, got {type(author_obj).__name__}")
    metadata = obj.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise DecodeError("bad_type", f"metadata must be an object, got {type(metadata).__name__}")
    if not nesting_checked and _deeper_than(obj, MAX_DEPTH):
        raise DecodeError("too_deep", f"the event nests objects or arrays more than {MAX_DEPTH} levels deep")
    return Comment(
        id=obj["id"],
        thread_id=obj["thread_id"],
        text=text,
        posted_at=posted_at,
        author=author,
        site=obj.get("site"),
        thread_published_at=thread_published_at,
        raw=obj,
    )


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and arrays nest more than `limit` levels (iterative: no recursion limit)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def decode_comment(data: bytes | None) -> Comment:
    """Decode and validate one comment event from its wire bytes."""
    if data is None:
        raise DecodeError("empty", "the message has no value")
    if len(data) > MAX_EVENT_BYTES:
        raise DecodeError("too_large", f"event is {len(data)} bytes, limit {MAX_EVENT_BYTES}")
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("invalid_json", f"not valid JSON (UTF-8): {exc}") from None
    # Every object or array opens with a bracket, so an event with no more brackets than
    # MAX_DEPTH (most: the comment and its author) cannot nest deeper; walking it costs more.
    shallow = data.count(b"{") + data.count(b"[") <= MAX_DEPTH
    return comment_from_dict(obj, nesting_checked=shallow)


@dataclass(slots=True, frozen=True)
class Reason:
    """Why a stage said what it said: `code` is stable (e.g. link.shortener), `text` is for people."""

    code: str
    text: str
    weight: float = 0.0
    evidence: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "text": self.text, "weight": round(self.weight, 4)}
        if self.evidence is not None:
            out["evidence"] = self.evidence
        return out

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> Reason:
        return cls(obj["code"], obj["text"], obj.get("weight", 0.0), obj.get("evidence"))


@dataclass(slots=True)
class StageResult:
    """One stage's finding for one comment: label, score in [0, 1], reasons and details."""

    stage: str
    label: str
    score: float
    reasons: list[Reason] = field(default_factory=list)
    version: str = "1"
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "label": self.label,
            "score": round(self.score, 4),
            "reasons": [r.to_dict() for r in self.reasons],
            "version": self.version,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> StageResult:
        return cls(
            stage=obj["stage"],
            label=obj["label"],
            score=obj["score"],
            reasons=[Reason.from_dict(r) for r in obj.get("reasons", ())],
            version=obj.get("version", "1"),
            data=obj.get("data", {}),
        )


@dataclass(slots=True)
class Envelope:
    """What travels between stages: the comment and every stage result so far."""

    comment: Comment
    stages: dict[str, StageResult]
    received_at: float  # when the first stage read it (epoch seconds), for end-to-end latency
    source: bytes | None = None  # the comment event as published, when this process read it so


def stage_message(env: Envelope, result: StageResult, *, action: str | None = None) -> dict[str, Any]:
    """The JSON object a stage publishes: its verdict, keyed by comment id, plus the comment and
    all results so far so that the next stage needs no join."""
    stages = {**env.stages, result.stage: result}
    own = result.to_dict()  # once: it is the verdict and one of the stages
    msg: dict[str, Any] = {
        "comment_id": env.comment.id,
        "thread_id": env.comment.thread_id,
        "site": env.comment.site,
        **own,
        "decided_at": time.time(),
        "received_at": env.received_at,
        "posted_at": env.comment.raw.get("posted_at"),
        "stages": {name: own if r is result else r.to_dict() for name, r in stages.items()},
        "comment": env.comment.raw,
    }
    if action is not None:
        msg["action"] = action
    return msg


def encode(obj: dict[str, Any]) -> bytes:
    return orjson.dumps(obj)


def decode_stage_message(data: bytes) -> Envelope:
    """Decode a stage message published by an earlier stage (trusted: already validated)."""
    try:
        return stage_message_from_dict(orjson.loads(data))
    except orjson.JSONDecodeError as exc:
        raise DecodeError("bad_stage_message", f"not a streamproc stage message: {exc!r}") from None


def stage_message_from_dict(obj: Any) -> Envelope:
    """A stage message already parsed from JSON (e.g. carried inside another message)."""
    try:
        comment = comment_from_dict(obj["comment"])
        stages = {name: StageResult.from_dict(r) for name, r in obj["stages"].items()}
        return Envelope(comment, stages, obj.get("received_at", time.time()))
    except DecodeError:
        raise
    except (KeyError, TypeError, AttributeError) as exc:
        raise DecodeError("bad_stage_message", f"not a streamproc stage message: {exc!r}") from None
