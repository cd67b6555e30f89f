"""The whole pipeline on a real broker: workers as separate processes, malformed input to the DLQ,
one final verdict per comment that matches the offline `check`, and metrics that add up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from streamproc.cli import check_lines
from streamproc.config import Settings
from streamproc.gen.demo import generate, interleave
from tests.support.workers import WorkerProcess, consume, prefixed_topics, produce, run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

COMMENTS = 300


def _comparable(msg: dict[str, Any]) -> dict[str, Any]:
    """A verdict without its timestamps: what must be equal between streaming and `check`."""
    return {
        "action": msg["action"],
        "label": msg["label"],
        "score": msg["score"],
        "reasons": msg["reasons"],
        "stages": msg["stages"],
    }


def test_pipeline_end_to_end(
    broker: Any, unique_name: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    topics = prefixed_topics(unique_name)
    stream = generate(COMMENTS, seed=11)
    events = list(interleave(stream))
    # Two deployments of the stage groups, as separate OS processes in separate consumer roles.
    # One partition keeps the input order, so "which repeat came first" matches the offline run.
    front = start_worker(
        broker.bootstrap, unique_name, stages="links,duplicates", partitions=1, topics=topics, name="front"
    )
    back = start_worker(
        broker.bootstrap, unique_name, stages="spam,decide", partitions=1, topics=topics, name="back"
    )

    run(produce(broker.bootstrap, topics.comments, events))
    records = run(consume(broker.bootstrap, topics.verdicts, expected=COMMENTS, timeout=180))
    dead = run(consume(broker.bootstrap, topics.dlq, expected=len(stream.malformed), timeout=30))

    front.assert_alive()
    back.assert_alive()
    verdicts = [orjson.loads(r.value) for r in records]
    ids = [v["comment_id"] for v in verdicts]
    assert sorted(ids) == sorted(e["id"] for e in stream.events), front.log() + back.log()
    assert len(ids) == len(set(ids)), "a comment got more than one final verdict"
    assert all(r.key.decode() == v["comment_id"] for r, v in zip(records, verdicts, strict=True))

    # Every malformed message is in the DLQ, as sent, with a reason and where it came from.
    assert sorted(r.value for r in dead) == sorted(stream.malformed)
    for r in dead:
        headers = {k: v.decode() for k, v in r.headers}
        assert headers["streamproc-error-reason"] in {
            "invalid_json",
            "missing_field",
            "not_object",
            "bad_type",
            "bad_timestamp",
        }
        assert headers["streamproc-stage"] == "links"
        assert headers["streamproc-source-topic"] == topics.comments

    # Each final verdict carries every stage's result, and they are what `check` computes.
    lines = [orjson.dumps(e) for e in stream.events]
    offline = {msg["comment_id"]: msg for _, msg in check_lines(lines, Settings()) if isinstance(msg, dict)}
    for v in verdicts:
        assert set(v["stages"]) == {"links", "duplicates", "spam", "decide"}
        assert v["action"] in ("approve", "hold", "reject")
        got, want = _comparable(v), _comparable(offline[v["comment_id"]])
        assert got == want, (
            v["comment_id"],
            [k for k in want["stages"] if got["stages"].get(k) != want["stages"][k]],
        )
    by_id = {v["comment_id"]: v for v in verdicts}
    for cid, kind in stream.kinds.items():
        if kind == "empty":
            assert by_id[cid]["stages"]["duplicates"]["label"] == "empty"
        if kind in ("link_spam", "short_link"):
            assert by_id[cid]["stages"]["links"]["data"]["domains"], cid

    # Metrics count what was sent.
    sent = len(stream.events) + len(stream.malformed)
    assert front.metric("streamproc_comments_consumed_total", stage="links") == sent
    assert front.metric("streamproc_dead_letters_total", stage="links") == len(stream.malformed)
    assert front.metric("streamproc_verdicts_total", stage="links") == COMMENTS
    assert front.metric("streamproc_verdicts_total", stage="duplicates") == COMMENTS
    assert back.metric("streamproc_verdicts_total", stage="spam") == COMMENTS
    assert back.metric("streamproc_actions_total") == COMMENTS
    assert back.metric("streamproc_end_to_end_seconds_count") == COMMENTS
    for action in ("approve", "hold", "reject"):
        expected = sum(1 for v in verdicts if v["action"] == action)
        assert back.metric("streamproc_actions_total", action=action) == expected
