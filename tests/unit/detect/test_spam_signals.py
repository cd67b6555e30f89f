"""Spam signals: content phrases, author names, posting rate, timing guards, decoding."""

from __future__ import annotations

from typing import Any

import pytest

from streamproc.detect.features import (
    AUTHOR_TTL,
    RATE_LIMIT,
    content_signals,
    name_signals,
    observe_author,
    prepare,
    stale_authors,
    upstream_signals,
)
from streamproc.detect.links import assess_links
from streamproc.detect.spam import score_spam
from streamproc.events import Comment, Reason, StageResult, comment_from_dict


def _comment(text: str, **extra: Any) -> Comment:
    return comment_from_dict(
        {"id": "c1", "thread_id": "t1", "text": text, "posted_at": "2026-03-01T12:00:00Z", **extra}
    )


def _codes(text: str) -> set[str]:
    return {s.code for s in content_signals(prepare(text))}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Check out my channel for beats!", {"content.self_promo"}),
        ("sub 4 sub anyone? I sub back", {"content.self_promo"}),
        ("Please like and share my new song", {"content.self_promo"}),
        ("Check out this video on YouTube:", {"content.self_promo"}),
        ("check out this youtube channel: kobe02", {"content.self_promo"}),
        ("I'm a new youtuber, help me get 500 subscribers", {"content.self_promo"}),
        ("get free instagram followers today", {"content.commercial"}),
        ("plz give my cover a listen, trying to reach 1000 subscribers", {"content.self_promo"}),
        ("Click here to claim your prize", {"content.call_to_action", "content.claim"}),
        ("Read more at our partner page", {"content.call_to_action"}),
        ("Earn money working from home, text me on whatsapp", {"content.money", "content.contact"}),
        ("Call +1 555 201 3344 today", {"content.contact"}),
        ("Nice blog, thanks for sharing. Keep it up", {"content.seo"}),
        ("Buy cheap replica watches, 80% off, free shipping", {"content.commercial"}),
        ("BUY NOW BEFORE IT IS GONE FOREVER", {"content.call_to_action", "content.shouting"}),
        ("soooooo good", {"content.repeated_chars"}),
        ("what?!?!?!", {"content.punctuation"}),
        ("$$$ 1000 2000 3000 !!! ###", {"content.amount", "content.non_letters", "content.punctuation"}),
        ("Paid $30 for the ticket.", {"content.amount"}),
    ],
)
def test_content_signals_fire(text: str, expected: set[str]) -> None:
    assert expected <= _codes(text)


@pytest.mark.parametrize(
    "text",
    [
        "I think the new tram line is long overdue.",
        "Check out the second chart in the report, it says a lot.",
        "I subscribed to the paper years ago and still read it daily.",
        "Which channel shows the match tonight?",
        "The recipe needs more garlic. Great article though!",
        "Paid $1,200 for the repair, the garage was fair.",
        "They call him a hero, and she won a medal at the games.",
        "The Nobel prize went to a chemist this year.",
        "The pharmacy was closed, so I took my sleeping pills late.",
        "We should support our troops and their families.",
        "This is my song! Been listening since 2010.",
        "I'll give it a try next weekend.",
        "Please check the facts before you post.",
        "We must act now on housing. I'll read more on this later.",
        "We visited the museum and the old town.",
        "",
    ],
)
def test_ordinary_comments_raise_no_strong_signal(text: str) -> None:
    strong = [s for s in content_signals(prepare(text)) if s.weight >= 0.3]
    assert strong == []


def test_html_entities_and_invisible_characters_are_decoded_before_scoring() -> None:
    hidden = "check&#32;out <b>my</b> chan\u200bnel"
    assert prepare(hidden) == "check out  my  channel"
    assert "content.self_promo" in _codes(hidden)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Cheap Loans Online Deals", "author.keywords"),
        ("www.best-casino.com", "author.keywords"),
        ("Best Watches Online", "author.keywords"),
        ("user83749273", "author.machine_name"),
        ("xkcdqrtvbnml", "author.machine_name"),
    ],
)
def test_suspicious_author_names(name: str, code: str) -> None:
    assert code in {s.code for s in name_signals(name)}


@pytest.mark.parametrize("name", ["Maria K.", "dave1984", "Best Friend", "Official Fan", "tom_h", None, ""])
def test_ordinary_author_names(name: str | None) -> None:
    assert [s for s in name_signals(name) if s.weight >= 0.3] == []


def test_posting_rate_counts_the_window_and_ignores_redelivery() -> None:
    rows: list[Any] = []
    for i in range(RATE_LIMIT):
        activity, rows = observe_author(rows, f"c{i}", 1000.0 + i * 10)
    assert activity.recent == RATE_LIMIT and not activity.first_seen
    again, rows2 = observe_author(rows, f"c{RATE_LIMIT - 1}", 1000.0 + (RATE_LIMIT - 1) * 10)
    assert again == activity and rows2 == rows  # same comment redelivered: same answer, same state
    later, _ = observe_author(rows, "late", 1000.0 + 3600 * 5)
    assert later.recent == 1


def test_back_dated_comments_cannot_dodge_the_rate_window() -> None:
    rows: list[Any] = []
    for i in range(RATE_LIMIT):
        # each claims to be a day older than the one before
        activity, rows = observe_author(rows, f"c{i}", 10_000_000.0 - i * 86400)
    assert activity.recent == RATE_LIMIT


def test_authors_unseen_for_the_ttl_are_first_seen_again_and_can_be_swept() -> None:
    _, rows = observe_author([], "a", 0.0)
    back, kept = observe_author(rows, "b", AUTHOR_TTL + 10)
    assert back.first_seen and [r[0] for r in kept] == ["b"]
    assert stale_authors([("x", rows), ("y", kept)], AUTHOR_TTL + 10) == ["x"]
    # Sweeping is storage only: an expired history and none give the same answer.
    assert observe_author(rows, "c", AUTHOR_TTL * 2)[0] == observe_author([], "c", AUTHOR_TTL * 2)[0]


def test_history_rows_as_older_versions_wrote_them_are_read() -> None:
    # [id, time] rows (before answers were kept) and tuples: same answer as the rows with answers.
    plain = [["a", 10.0], ("b", 20.0), ["c", 30.0, True, 1]]
    activity, kept = observe_author(plain, "d", 40.0)
    assert activity.recent == 4 and not activity.first_seen
    assert kept == [["a", 10.0], ["b", 20.0], ["c", 30.0, True, 1], ["d", 40.0]]
    # out of order and re-delivered ids: sorted by time, the id counted once
    again, kept = observe_author([["b", 20.0], ["a", 10.0], ["d", 5.0]], "d", 15.0)
    assert again.recent == 3 and [r[0] for r in kept] == ["a", "d", "b"]


def test_first_sighting() -> None:
    first, rows = observe_author([], "a", 5.0)
    second, _ = observe_author(rows, "b", 6.0)
    assert first.first_seen and not second.first_seen


def test_forged_timestamps_alone_never_decide() -> None:
    # Posted years after the article, by a flooding author: timing and rate only.
    c = _comment("Lovely photos of the harbour.", thread_published_at="2016-01-01T00:00:00Z")
    rows: list[Any] = []
    for i in range(30):
        activity, rows = observe_author(rows, f"x{i}", c.posted_at)
    links = StageResult("links", "clean", 0.0)
    result = score_spam(c, {"links": links}, activity=activity)
    assert {"timing.late", "behaviour.rate"} <= {r.code for r in result.reasons}
    assert result.score < 0.5 and result.label == "ham"


def test_late_link_adds_to_link_evidence() -> None:
    text = "see http://deals-now-shop.example.com/x"
    links = assess_links(text)
    fresh = score_spam(_comment(text, thread_published_at="2026-02-28T00:00:00Z"), {"links": links})
    late = score_spam(_comment(text, thread_published_at="2025-01-01T00:00:00Z"), {"links": links})
    assert late.score > fresh.score
    assert "timing.late_link" in {r.code for r in late.reasons}


@pytest.mark.parametrize(
    ("code", "words", "weight"),
    [
        ("duplicate.campaign", 8, 0.35 * 0.4),  # one earlier copy: a campaign has not spread yet
        ("duplicate.near_campaign", 8, 0.35 * 0.9 * 0.4),
        ("duplicate.near.author", 8, 0.3 * 0.9),
        ("duplicate.campaign", 3, 0.35 * 0.5 * 0.4),  # short repeats are often innocent
        ("duplicate.near", 8, None),  # qualifies the other repeat reasons, no weight of its own
        ("duplicate.something_new", 8, 0.2),
        ("duplicate.empty", 8, None),
        ("link.allowed", 8, None),
    ],
)
def test_upstream_reasons_are_weighed(code: str, words: int, weight: float | None) -> None:
    stage = "duplicates" if code.startswith("duplicate.") else "links"
    result = StageResult(stage, "x", 0.5, [Reason(code, "why", 0.5)])
    got = upstream_signals({stage: result}, words)
    assert [s.weight for s in got] == ([] if weight is None else [pytest.approx(weight)])


@pytest.mark.parametrize(("matches", "weight"), [(1, 0.15), (2, 0.2), (3, 0.4), (8, 0.6)])
def test_repeats_of_a_short_text_add_up(matches: int, weight: float) -> None:
    result = StageResult(
        "duplicates", "duplicate", 0.5, [Reason("duplicate.author", "again", 0.5)], data={"matches": matches}
    )
    assert [s.weight for s in upstream_signals({"duplicates": result}, 3)] == [pytest.approx(weight)]


def test_many_people_repeating_a_short_text_is_not_a_flood() -> None:
    reason = Reason("duplicate.campaign", "same text", 0.5)
    result = StageResult("duplicates", "duplicate", 0.5, [reason], data={"matches": 9})
    assert [s.weight for s in upstream_signals({"duplicates": result}, 3)] == [pytest.approx(0.175)]


@pytest.mark.parametrize(("matches", "factor"), [(1, 0.4), (2, 0.7), (3, 1.0), (9, 1.0)])
def test_a_campaign_weighs_more_as_it_spreads(matches: int, factor: float) -> None:
    reason = Reason("duplicate.campaign", "why", 0.5)
    result = StageResult("duplicates", "duplicate", 0.5, [reason], data={"matches": matches})
    (signal,) = upstream_signals({"duplicates": result}, 8)
    assert signal.weight == pytest.approx(0.35 * factor)
