"""Feedback events as the updater reads them: the contract, the text, what is refused."""

from __future__ import annotations

import orjson
import pytest

from streamproc.errors import DecodeError
from streamproc.stages.spam import feedback_example


def _fb(**fields: object) -> bytes:
    base = {"comment_id": "c9", "label": "spam", "moderator": "mod-1", "at": "2026-01-02T03:04:05Z"}
    return orjson.dumps({**base, **fields})


def test_feedback_with_text_gives_features_and_a_stable_key() -> None:
    key, features, label = feedback_example(_fb(text="buy pills at http://bit.ly/x"))
    names = {n for n, _ in features}
    assert key == "c9:spam:mod-1" and label == 1
    assert {"w:pills", "s:link.shortener", "rules.prior"} <= names  # n-grams, link signals, prior


def test_feedback_may_carry_the_whole_comment() -> None:
    comment = {"id": "c9", "thread_id": "t", "text": "lovely harbour photos", "posted_at": "2026-01-01T00:00:00Z",
               "author": {"name": "Cheap Loans Deals"}}  # fmt: skip
    _, features, label = feedback_example(_fb(label="ham", comment=comment))
    names = {n for n, _ in features}
    assert label == 0 and {"w:harbour", "s:author.keywords"} <= names


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "invalid_json"),
        (b"[1]", "not_object"),
        (_fb(label="maybe", text="x"), "bad_label"),
        (_fb(), "no_text"),
        (_fb(text="   "), "no_text"),
    ],
)
def test_unusable_feedback_is_refused_with_a_reason(value: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        feedback_example(value)
    assert info.value.reason == reason
