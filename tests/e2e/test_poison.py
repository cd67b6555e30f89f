"""Poison pills: a comment that makes a detection core or the state layer raise is dead-lettered
with the stage and the error, still gets a final verdict (held, stage.error), and the worker
keeps consuming the comments behind it (a real worker on Apache Kafka, its cores poisoned by
tests/support/poisoned_worker.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from streamproc.clients import ensure_topics, read_span
from streamproc.config import load_settings
from streamproc.gen.demo import generate
from tests.support.faults import audit_until_complete, verdict_history
from tests.support.workers import WorkerProcess, prefixed_topics, produce, run

pytestmark = [pytest.mark.e2e]

POISONS = {"POISON-LINKS": "links", "POISON-STATE and more words": "duplicates", "POISON-SPAM": "spam"}


def test_poisoned_comments_are_dead_lettered_held_and_the_rest_flows(
    kafka: Any, unique_name: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    topics = prefixed_topics(unique_name)
    settings = load_settings({}, brokers=kafka.bootstrap, partitions=2, topics=topics)
    asyncio.run(ensure_topics(settings))
    worker = start_worker(
        kafka.bootstrap, unique_name, partitions=2, topics=topics, module="tests.support.poisoned_worker"
    )
    events = generate(200, seed=8, malformed=0).events
    originals = list(events)
    poisoned: dict[str, str] = {}
    for i, (marker, stage) in enumerate(list(POISONS.items()) * 5):
        event = {**originals[i * 10], "id": f"poison-{i}", "text": f"{originals[i * 10]['text']} {marker}"}
        events.insert(i * 13 + 5, event)
        poisoned[event["id"]] = stage
    run(produce(kafka.bootstrap, topics.comments, events))
    report, _ = audit_until_complete(settings, timeout=180, poll=2)
    assert report.ok and report.judged == len(events), report.render() + worker.log()
    history, _ = verdict_history(settings)
    for cid, stage in poisoned.items():
        (verdict,) = history[cid]
        assert verdict["action"] == "hold", cid
        assert verdict["stages"][stage]["label"] == "error", (cid, verdict["stages"][stage])
        assert any(r["code"] == "stage.error" for r in verdict["reasons"])
    clean = [history[e["id"]][0] for e in events if e["id"] not in poisoned]
    bad = [
        (v["comment_id"], s, v["stages"][s].get("reasons"))
        for v in clean
        for s in v["stages"]
        if v["stages"][s]["label"] == "error"
    ]
    assert not bad, bad

    async def dead_letters() -> list[dict[str, str]]:
        return [{k: v.decode() for k, v in r.headers} async for r in read_span(settings, topics.dlq)]

    # At-least-once: a comment read again after a rebalance is dead-lettered again; count each once.
    dead = list(
        {
            (d["streamproc-source-partition"], d["streamproc-source-offset"], d["streamproc-stage"]): d
            for d in asyncio.run(dead_letters())
        }.values()
    )
    assert len(dead) == len(poisoned), dead
    assert sorted(d["streamproc-stage"] for d in dead) == sorted(poisoned.values())
    assert all(
        d["streamproc-error-reason"] == "stage_error" and "Poison" in d["streamproc-error-message"]
        for d in dead
    )
    for stage in set(POISONS.values()):
        assert (
            worker.metric("streamproc_errors_total", stage=stage, kind="Poison")
            + worker.metric("streamproc_errors_total", stage=stage, kind="StateOpError")
            == 5
        )
    worker.assert_alive()
