"""The duplicates join: each shard's reply counts once, a finished comment is not published again
when a reply is re-delivered, and a comment that waited too long is published with what came."""

from __future__ import annotations

from typing import Any

from streamproc.stages.duplicates import DONE_TTL, JOIN_TIMEOUT, Joins


def _reply(shard: int, matches: list[Any], *, env: bool = False, n: int = 2) -> dict[str, Any]:
    body: dict[str, Any] = {"id": "c1", "n": n, "s": shard, "m": matches}
    if env:
        body["env"] = {"comment": {"id": "c1"}}
    return body


def test_a_re_delivered_reply_does_not_complete_the_join_early() -> None:
    joins = Joins({})
    assert joins.add(_reply(0, [["a"]], env=True), 0, 0.0) is None
    assert joins.add(_reply(0, [["a"]], env=True), 0, 1.0) is None  # shard 0 again: still waiting
    entry = joins.add(_reply(1, [["b"]]), 0, 2.0)
    assert entry is not None
    assert entry["m"] == [["a"], ["b"]]  # each shard's matches once
    assert entry["env"] == {"comment": {"id": "c1"}}


def test_a_reply_re_delivered_after_the_verdict_is_ignored() -> None:
    table: dict[str, Any] = {}
    joins = Joins(table)
    joins.add(_reply(1, []), 0, 0.0)
    assert joins.add(_reply(0, [], env=True), 0, 1.0) is not None
    assert joins.add(_reply(1, []), 0, 2.0) is None
    assert joins.add(_reply(0, [], env=True), 0, 3.0) is None
    assert joins.expire(0, 3.0 + JOIN_TIMEOUT) == []  # no partial verdict later either
    assert joins.expire(0, 1.0 + DONE_TTL) == []
    assert table == {}  # finished comments are forgotten after DONE_TTL


def test_a_comment_that_waited_too_long_is_published_once_with_what_came() -> None:
    table: dict[str, Any] = {}
    joins = Joins(table)
    joins.add(_reply(0, [["a"]], env=True, n=3), 1, 0.0)
    assert joins.expire(1, JOIN_TIMEOUT - 1) == []
    assert joins.expire(0, JOIN_TIMEOUT + 1) == []  # another partition's tick leaves it alone
    (entry,) = joins.expire(1, JOIN_TIMEOUT + 1)
    assert entry["m"] == [["a"]]
    assert joins.expire(1, JOIN_TIMEOUT + 5) == []
    assert joins.add(_reply(1, [["b"]], n=3), 1, JOIN_TIMEOUT + 6) is None  # late shard: ignored


def test_an_entry_without_the_comment_is_dropped_and_can_start_again() -> None:
    table: dict[str, Any] = {}
    joins = Joins(table)
    joins.add(_reply(1, []), 0, 0.0)
    assert joins.expire(0, JOIN_TIMEOUT + 1) == []
    assert table == {}
    # the reply carrying the comment comes late: a new entry, published at its own timeout
    assert joins.add(_reply(0, [["a"]], env=True), 0, JOIN_TIMEOUT + 2) is None
    (entry,) = joins.expire(0, 2 * JOIN_TIMEOUT + 3)
    assert entry["m"] == [["a"]]
