"""Domain campaigns: the pure core over a plain dict, and the offline links stage that uses it."""

from __future__ import annotations

from typing import Any

import pytest

from streamproc.config import Settings
from streamproc.detect.campaigns import CampaignRules, Sightings, expire, observe, stale_domains
from streamproc.detect.links import add_campaign, assess_links
from streamproc.events import Envelope, comment_from_dict
from streamproc.pipeline import OfflinePipeline

RULES = CampaignRules(
    window=3600.0, max_rows=8, min_comments=4, min_authors=3, min_threads=3, flood_comments=6
)
HOUR = 3600.0

# sightings of one domain as (comment_id, author, thread, time) -> what the last one sees
SEQUENCES: list[tuple[list[tuple[str, str | None, str, float]], tuple[int, int, int, bool]]] = [
    ([("c1", "a1", "t1", 0.0)], (1, 1, 1, False)),
    ([("c1", "a1", "t1", 0), ("c2", "a2", "t1", 10), ("c3", "a3", "t1", 20)], (3, 3, 1, False)),
    (
        [("c1", "a1", "t1", 0), ("c2", "a2", "t1", 10), ("c3", "a3", "t1", 20), ("c4", "a1", "t1", 30)],
        (4, 3, 1, True),
    ),
    (
        [("c1", "a1", "t1", 0), ("c2", "a1", "t2", 10), ("c3", "a1", "t3", 20), ("c4", "a1", "t1", 30)],
        (4, 1, 3, True),
    ),
    (
        [("c1", "a1", "t1", 0), ("c2", "a1", "t1", 10), ("c3", "a2", "t1", 20), ("c4", "a2", "t2", 30)],
        (4, 2, 2, False),
    ),
    ([(f"c{i}", "a1", "t1", float(i)) for i in range(6)], (6, 1, 1, True)),
    ([(f"c{i}", None, f"t{i % 2}", float(i)) for i in range(5)], (5, 0, 2, False)),
    # older than the window: forgotten
    (
        [("c1", "a1", "t1", 0), ("c2", "a2", "t2", 10), ("c3", "a3", "t3", 20), ("c4", "a4", "t4", 2 * HOUR)],
        (1, 1, 1, False),
    ),
    # a redelivered comment counts once
    (
        [("c1", "a1", "t1", 0), ("c2", "a2", "t2", 10), ("c2", "a2", "t2", 10), ("c2", "a2", "t2", 10)],
        (2, 2, 2, False),
    ),
    # a redelivery after later comments does not count the later ones
    (
        [
            ("c1", "a1", "t1", 0),
            ("c2", "a2", "t2", 10),
            ("c3", "a3", "t3", 20),
            ("c4", "a4", "t4", 30),
            ("c1", "a1", "t1", 0),
        ],
        (1, 1, 1, False),
    ),
]


@pytest.mark.parametrize(("rows", "expected"), SEQUENCES)
def test_observe(
    rows: list[tuple[str, str | None, str, float]], expected: tuple[int, int, int, bool]
) -> None:
    state: dict[str, Any] = {}
    seen = Sightings(0, 0, 0)
    for comment_id, author, thread, now in rows:
        seen = observe(state, "spam.com", comment_id, author, thread, now, RULES)
    assert (seen.comments, seen.authors, seen.threads, seen.is_campaign(RULES)) == expected


def test_late_comment_is_counted_at_its_own_time_and_kept_in_order() -> None:
    state: dict[str, Any] = {}
    for comment_id, now in [("c1", 0.0), ("c3", 20.0), ("c4", 30.0), ("c2", 10.0)]:
        seen = observe(state, "spam.com", comment_id, comment_id, "t", now, RULES)
    assert seen == Sightings(2, 2, 1)
    assert [r[0] for r in state["spam.com"]] == ["c1", "c2", "c3", "c4"]


def test_a_redelivered_comment_gets_its_first_answer_although_a_late_comment_came_between() -> None:
    state: dict[str, Any] = {}
    first = observe(state, "spam.com", "c1", "a1", "t1", 100.0, RULES)
    observe(state, "spam.com", "c0", "a2", "t2", 90.0, RULES)  # posted before c1, recorded after
    assert observe(state, "spam.com", "c1", "a1", "t1", 100.0, RULES) == first == Sightings(1, 1, 1)


def test_state_is_bounded_per_domain() -> None:
    state: dict[str, Any] = {}
    for i in range(50):
        observe(state, "spam.com", f"c{i}", f"a{i}", "t", float(i), RULES)
    assert len(state["spam.com"]) == RULES.max_rows
    assert [r[0] for r in state["spam.com"]][-1] == "c49"


def test_state_survives_a_json_round_trip() -> None:
    # A Faust table with the json serializer gives back lists, never tuples.
    state: dict[str, Any] = {}
    observe(state, "spam.com", "c1", "a1", "t1", 0.0, RULES)
    import orjson

    state = orjson.loads(orjson.dumps(state))
    assert observe(state, "spam.com", "c2", "a2", "t2", 1.0, RULES) == Sightings(2, 2, 2)


def test_expire_drops_domains_outside_the_window() -> None:
    state: dict[str, Any] = {}
    observe(state, "old.com", "c1", "a", "t", 0.0, RULES)
    observe(state, "new.com", "c2", "a", "t", 2 * HOUR, RULES)
    assert expire(state, 2 * HOUR, RULES) == 1
    assert set(state) == {"new.com"}


STALE = [
    ({"a.com": [["c1", "x", "t", 0.0]], "b.com": [["c2", "x", "t", 3000.0]]}, 3700.0, ["a.com"]),
    ({"a.com": [["c1", "x", "t", 0.0], ["c3", "x", "t", 3500.0]]}, 3700.0, []),
    ({"a.com": []}, 0.0, ["a.com"]),
    ({}, 0.0, []),
]


@pytest.mark.parametrize(("state", "now", "expected"), STALE)
def test_stale_domains(state: dict[str, Any], now: float, expected: list[str]) -> None:
    assert stale_domains(state.items(), now, RULES) == expected


def _comment(i: int, text: str, author: str | None, thread: str, minute: int) -> Envelope:
    raw = {"id": f"c{i}", "thread_id": thread, "text": text, "posted_at": f"2026-01-01T10:{minute:02d}:00Z"}
    if author:
        raw["author"] = {"id": author}
    return Envelope(comment_from_dict(raw), {}, 0.0)


# comment stream -> reason codes of each comment's links verdict
STREAMS = [
    (
        [
            ("great pills at pillshop.xyz", "a1", "t1"),
            ("really, pillshop.xyz/deal works", "a2", "t2"),
            ("try https://pillshop.xyz/?r=3 now", "a3", "t3"),
            ("pillshop.xyz is where I buy", "a4", "t4"),
        ],
        [False, False, False, True],
    ),
    (
        [(f"see https://en.wikipedia.org/wiki/Topic_{i} for more", f"a{i}", f"t{i}") for i in range(6)],
        [False] * 6,
    ),
    (
        [(f"my comment number {i} has no link", f"a{i}", f"t{i}") for i in range(6)],
        [False] * 6,
    ),
    (
        # the campaign is kept under the real site, not the shortener everybody uses
        [(f"short https://bit.ly/x{i} and realsite{i % 2}.com", f"a{i}", "t1") for i in range(8)],
        [False] * 6 + [True, True],
    ),
]


@pytest.mark.parametrize(("comments", "expected"), STREAMS)
def test_offline_links_stage_flags_campaigns(
    comments: list[tuple[str, str, str]], expected: list[bool]
) -> None:
    pipeline = OfflinePipeline(Settings())
    flagged = []
    for i, (text, author, thread) in enumerate(comments):
        env = _comment(i, text, author, thread, i)
        pipeline.run(env)
        flagged.append("link.campaign" in [r.code for r in env.stages["links"].reasons])
    assert flagged == expected


def test_campaign_raises_the_label_and_the_chained_stage_matches_the_core() -> None:
    comments = [_comment(i, f"buy at pillshop.xyz/{i} today", f"a{i}", f"t{i}", i) for i in range(4)]
    offline = OfflinePipeline(Settings())
    results = []
    for env in comments:
        offline.run(env)
        results.append(env.stages["links"])
    # The core alone: findings, then (after a JSON hop) campaign state in a plain mapping.
    comments = [_comment(i, f"buy at pillshop.xyz/{i} today", f"a{i}", f"t{i}", i) for i in range(4)]
    stream_state: dict[str, Any] = {}
    streamed = []
    for env in comments:
        found = assess_links(env.comment.text)
        hopped = type(found).from_dict(found.to_dict())
        c = env.comment
        streamed.append(
            add_campaign(
                hopped,
                stream_state,
                comment_id=c.id,
                author=c.author_key,
                thread_id=c.thread_id,
                now=c.posted_at,
            )
        )
    assert [r.to_dict() for r in streamed] == [r.to_dict() for r in results]
    assert results[0].label == "clean"
    assert results[3].label == "suspicious"
    assert [r.code for r in results[3].reasons][-1] == "link.campaign"
    assert set(stream_state) == {"pillshop.xyz"}
    assert offline.state.shard.rows("campaigns").get("pillshop.xyz") == stream_state["pillshop.xyz"]
