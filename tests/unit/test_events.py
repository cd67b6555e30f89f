"""The comment contract: decoding, validation with explicit limits, and agreement with the schema."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema
import orjson
import pytest

from streamproc.errors import DecodeError
from streamproc.events import (
    MAX_EVENT_BYTES,
    MAX_TEXT_CHARS,
    Envelope,
    StageResult,
    decode_comment,
    decode_stage_message,
    encode,
    stage_message,
)

VALID: dict[str, Any] = {
    "id": "c1",
    "thread_id": "t1",
    "text": "hello",
    "posted_at": "2026-11-23T10:00:00Z",
    "author": {"id": "u1", "name": "Ann"},
    "thread_published_at": "2026-11-01T00:00:00+02:00",
    "custom_field": {"kept": True},
}

INVALID: list[tuple[bytes, str]] = [
    (b"{oops", "invalid_json"),
    (b"\xff\xfe", "invalid_json"),
    (b"[1, 2]", "not_object"),
    (b'"text"', "not_object"),
    (b'{"thread_id": "t", "text": "", "posted_at": "2026-01-01T00:00:00Z"}', "missing_field"),
    (b'{"id": "", "thread_id": "t", "text": "", "posted_at": "2026-01-01T00:00:00Z"}', "missing_field"),
    (b'{"id": "c", "thread_id": "t", "posted_at": "2026-01-01T00:00:00Z"}', "missing_field"),
    (b'{"id": "c", "thread_id": "t", "text": ""}', "missing_field"),
    (b'{"id": "c", "thread_id": "t", "text": 5, "posted_at": "2026-01-01T00:00:00Z"}', "bad_type"),
    (b'{"id": 5, "thread_id": "t", "text": "", "posted_at": "2026-01-01T00:00:00Z"}', "bad_type"),
    (b'{"id": "c", "thread_id": "t", "text": "", "posted_at": "yesterday"}', "bad_timestamp"),
    (b'{"id": "c", "thread_id": "t", "text": "", "posted_at": "2026-01-01T00:00:00"}', "bad_timestamp"),
    (b'{"id": "c", "thread_id": "t", "text": "", "posted_at": 1700000000}', "bad_type"),
    (
        b'{"id": "c", "thread_id": "t", "text": "", "posted_at": "2026-01-01T00:00:00Z", "author": "x"}',
        "bad_type",
    ),
    (
        b'{"id": "c", "thread_id": "t", "text": "", "posted_at": "2026-01-01T00:00:00Z", "metadata": []}',
        "bad_type",
    ),
    (orjson.dumps({**VALID, "id": "x" * 257}), "field_too_long"),
    (orjson.dumps({**VALID, "author": {"name": "n" * 1025}}), "field_too_long"),
    (orjson.dumps({**VALID, "text": "a" * (MAX_TEXT_CHARS + 1)}), "text_too_long"),
    (b" " * (MAX_EVENT_BYTES + 1), "too_large"),
]


def _schema() -> dict[str, Any]:
    text = resources.files("streamproc").joinpath("schemas/comment.schema.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


def test_valid_comment_decodes_and_keeps_unknown_fields() -> None:
    comment = decode_comment(orjson.dumps(VALID))
    assert (comment.id, comment.thread_id, comment.text) == ("c1", "t1", "hello")
    assert comment.posted_at == 1795428000.0
    assert comment.thread_published_at == 1793484000.0
    assert comment.author_key == "u1"
    assert comment.raw["custom_field"] == {"kept": True}


@pytest.mark.parametrize(("data", "reason"), INVALID)
def test_invalid_events_name_their_reason(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_comment(data)
    assert info.value.reason == reason
    assert str(info.value)


def test_schema_agrees_with_decoder() -> None:
    schema = _schema()
    checker = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    checker.validate(VALID)
    for data, reason in INVALID:
        if reason in ("invalid_json", "too_large", "bad_timestamp"):
            continue  # not JSON, or a format the schema states but a generic validator may not check
        assert not checker.is_valid(orjson.loads(data)), data[:80]


def test_stage_message_round_trip() -> None:
    comment = decode_comment(orjson.dumps(VALID))
    env = Envelope(comment, {}, 1.0)
    result = StageResult("links", "clean", 0.0, [], "v", {"links": []})
    msg = stage_message(env, result)
    back = decode_stage_message(encode(msg))
    assert back.comment == comment
    assert back.stages["links"] == result
    assert msg["comment_id"] == "c1" and msg["stage"] == "links"


def test_garbage_stage_message_is_a_decode_error() -> None:
    with pytest.raises(DecodeError) as info:
        decode_stage_message(b'{"comment": 1}')
    assert info.value.reason in ("not_object", "bad_stage_message")


def test_nesting_deeper_than_the_limit_is_refused_without_recursion() -> None:
    from streamproc.events import MAX_DEPTH

    def nested(depth: int) -> bytes:
        return (
            b'{"id": "d", "thread_id": "t", "text": "x", "posted_at": "2026-11-30T10:00:00Z", "metadata": '
            + b'{"a": [' * (depth // 2)
            + b"1"
            + b"]}" * (depth // 2)
            + b"}"
        )

    assert decode_comment(nested(MAX_DEPTH - 2)).raw["metadata"]  # at the limit: fine
    with pytest.raises(DecodeError) as info:
        decode_comment(nested(MAX_DEPTH + 2))
    assert info.value.reason == "too_deep"
