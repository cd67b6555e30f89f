"""The spam stage on Apache Kafka: moderator labels for a new spam variant make later comments of
that variant score higher on every worker (the model travels through the compacted model topic),
a worker started afterwards scores with the current model too, `model push` reaches running
workers, and the streaming stage gives the verdicts of the offline path."""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from streamproc.broker.kafka import KafkaBroker
from streamproc.clients import latest_model
from streamproc.config import Settings, Topics
from streamproc.events import Envelope, comment_from_dict
from streamproc.gen.labelled import labelled_corpus
from streamproc.pipeline import OfflinePipeline
from streamproc.training import Example, fit, register_cli
from tests.support.workers import WorkerProcess, prefixed_topics, produce, run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# A spam variant the default rules do not know: no links, no phrases from the rule lists.
OPENERS = ["My grandmother swears by", "Honestly nothing beats", "Two weeks on", "Everyone at the gym uses"]
PRODUCTS = ["the jade herbal tea", "jade herbal tea drops", "the jade tea cleanse"]
CLAIMS = ["it melts belly fat overnight", "belly fat just melts away", "it flushed my belly fat in days"]
ASKS = [
    "ask Lina for the jade tea recipe",
    "Lina sells the jade tea, ask her",
    "jade tea from Lina changed my life",
]
HAM = [
    "The council should publish the full budget before the vote.",
    "I rode the new tram line today and it was on time, for once.",
    "Good interview, but I wish they had asked about the schools.",
    "The photos of the flood barriers are impressive.",
    "Does anyone know if the library opens on Sundays now?",
    "My son plays in the youth league and the coaches are great.",
]
BEFORE, AFTER, LABELS = 8, 24, 10
LIFT = 0.3  # every later comment of the variant scores at least this much higher


def _variant(rng: random.Random) -> str:
    return f"{rng.choice(OPENERS)} {rng.choice(PRODUCTS)}, {rng.choice(CLAIMS)}. {rng.choice(ASKS)}"


def _comment(cid: str, text: str, author: str) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"id": cid, "thread_id": f"thread-{cid[-1]}", "text": text, "posted_at": now,
            "author": {"id": author, "name": author}, "site": "news.example"}  # fmt: skip


async def _verdicts(bootstrap: str, topic: str, ids: set[str], timeout: float) -> dict[str, dict[str, Any]]:
    """The spam verdicts of `ids` (the last one of each: re-deliveries after a rebalance repeat)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    out: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    try:
        while not ids <= out.keys() and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    msg = orjson.loads(r.value)
                    if msg["comment_id"] in ids:
                        out[msg["comment_id"]] = msg
    finally:
        await consumer.stop()
    return out


def _wait_for_model(bootstrap: str, topics: Topics, timeout: float) -> int:
    settings = Settings(brokers=bootstrap, topics=topics)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = run(latest_model(settings))
        if model is not None and model.version >= 1:
            return model.version
        time.sleep(1.0)
    raise AssertionError("no model version was published after the feedback")


def _spam_consumed(w: WorkerProcess) -> float:
    return w.metric("streamproc_comments_consumed_total", stage="spam")


def _warm_up(bootstrap: str, topics: Topics, workers: list[WorkerProcess], timeout: float = 180) -> None:
    """Send ordinary comments until every worker has scored some: all have joined the group."""
    deadline, n = time.monotonic() + timeout, 0
    start = {w.name: _spam_consumed(w) for w in workers}
    while not all(_spam_consumed(w) > start[w.name] for w in workers):
        counts = {w.name: _spam_consumed(w) for w in workers}
        assert time.monotonic() < deadline, f"not every worker got partitions: {counts}\n" + "".join(
            w.log() for w in workers
        )
        batch = [
            _comment(f"warm-{n + i}", f"Warm-up comment number {n + i}.", f"warm-{n + i}") for i in range(8)
        ]
        run(produce(bootstrap, topics.comments, batch))
        n += len(batch)
        time.sleep(2.0)


def test_feedback_teaches_every_worker(
    kafka: KafkaBroker, unique_name: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    rng = random.Random(5)
    topics = prefixed_topics(unique_name)
    common = {"topics": topics, "partitions": 4}
    # One after the other, as a deployment scales out: two workers creating the internal topics
    # at the same moment can keep Faust rebalancing for a long time.
    a = start_worker(kafka.bootstrap, unique_name, name="a", **common)
    _warm_up(kafka.bootstrap, topics, [a])
    b = start_worker(kafka.bootstrap, unique_name, name="b", **common)
    _warm_up(kafka.bootstrap, topics, [a, b])

    before = [_comment(f"pre-{i}", _variant(rng), f"author-pre-{i}") for i in range(BEFORE)]
    run(produce(kafka.bootstrap, topics.comments, before))
    got = run(_verdicts(kafka.bootstrap, topics.spam, {c["id"] for c in before}, timeout=120))
    assert len(got) == BEFORE, a.log() + b.log()
    baseline = max(m["score"] for m in got.values())
    assert baseline < 0.5, "the variant must be new to the rules for this test to mean anything"

    # Moderators label some of the variant as spam and some ordinary comments as ham.
    feedback = [
        {"comment_id": f"fb-{i}", "label": "spam", "moderator": "mod-1", "at": "2026-01-01T00:00:00Z",
         "text": _variant(rng)}
        for i in range(LABELS)
    ] + [
        {"comment_id": f"fb-ham-{i}", "label": "ham", "moderator": "mod-2", "at": "2026-01-01T00:00:00Z",
         "text": text}
        for i, text in enumerate(HAM)
    ]  # fmt: skip
    run(produce(kafka.bootstrap, topics.feedback, feedback))
    version = _wait_for_model(kafka.bootstrap, topics, timeout=90)
    time.sleep(2.0)  # the followers read the new version within their poll interval

    consumed = {w.name: _spam_consumed(w) for w in (a, b)}
    after = [_comment(f"post-{i}", _variant(rng), f"author-post-{i}") for i in range(AFTER)]
    ham = [_comment(f"ham-{i}", text, f"author-ham-{i}") for i, text in enumerate(HAM)]
    run(produce(kafka.bootstrap, topics.comments, after + ham))
    got = run(_verdicts(kafka.bootstrap, topics.spam, {c["id"] for c in after + ham}, timeout=120))
    assert len(got) == len(after + ham), a.log() + b.log()

    for c in after:
        msg = got[c["id"]]
        assert msg["data"]["model_version"] >= version, msg
        assert msg["score"] >= baseline + LIFT, (c["text"], msg["score"], baseline)
    assert sum(got[c["id"]]["score"] for c in after) / AFTER >= 0.5
    assert all(got[c["id"]]["score"] < 0.5 for c in ham), [got[c["id"]]["score"] for c in ham]
    # Both workers scored some of them and run the new model; one of them applied the labels.
    assert all(_spam_consumed(w) > consumed[w.name] for w in (a, b)), (consumed, a.log(), b.log())
    assert all(w.metric("streamproc_model_version") >= version for w in (a, b))
    applied = [w.metric("streamproc_feedback_labels_total") for w in (a, b)]
    assert sorted(applied) == [0, LABELS + len(HAM)], applied
    print(f"\nfeedback: baseline max {baseline:.3f}; after model v{version}: "
          f"min {min(got[c['id']]['score'] for c in after):.3f}")  # fmt: skip

    # A worker that starts later (and one that restarts) reads the current model at startup.
    a.stop()
    c = start_worker(kafka.bootstrap, unique_name, name="c", **common)
    late = [_comment(f"late-{i}", _variant(rng), f"author-late-{i}") for i in range(8)]
    run(produce(kafka.bootstrap, topics.comments, late))
    got = run(_verdicts(kafka.bootstrap, topics.spam, {x["id"] for x in late}, timeout=180))
    assert len(got) == len(late), c.log() + b.log()
    assert all(
        m["data"]["model_version"] >= version and m["score"] >= baseline + LIFT for m in got.values()
    ), got


def test_model_push_reaches_running_workers(
    kafka: KafkaBroker,
    unique_name: str,
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topics = prefixed_topics(unique_name)
    worker = start_worker(kafka.bootstrap, unique_name, name="w", topics=topics, partitions=2)
    _warm_up(kafka.bootstrap, topics, [worker])

    rows = labelled_corpus(600, seed=3)
    model = fit([Example(comment_from_dict(r.to_event()), int(r.label == "spam")) for r in rows], Settings())
    path = tmp_path / "spam.model"
    path.write_bytes(model.to_bytes())
    monkeypatch.setenv("STREAMPROC_TOPIC_MODEL", topics.model)
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers())
    args = parser.parse_args(["model", "push", str(path), "--brokers", kafka.bootstrap])
    assert args.func(args) == 0
    version = _wait_for_model(kafka.bootstrap, topics, timeout=30)
    assert version >= model.version
    time.sleep(2.0)

    spam = _comment("push-1", "Check out my channel for cheap watches http://bit.ly/abc", "push-author-1")
    ham = _comment("push-2", "The ferry was late again but the views made up for it.", "push-author-2")
    run(produce(kafka.bootstrap, topics.comments, [spam, ham]))
    got = run(_verdicts(kafka.bootstrap, topics.spam, {"push-1", "push-2"}, timeout=60))
    assert len(got) == 2, worker.log()
    assert {m["version"] for m in got.values()} == {f"spam-model-{version}"}
    assert got["push-1"]["label"] == "spam" and got["push-2"]["label"] == "ham"
    assert all(m["score"] != m["data"]["rule_score"] for m in got.values())  # the model scored, not the rules


def test_stream_scores_like_check(
    kafka: KafkaBroker, unique_name: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    """The streaming spam stage (author state in the group's table) and the offline path give the
    same verdicts for the same input; one partition keeps the input order for both."""
    topics = prefixed_topics(unique_name)
    worker = start_worker(kafka.bootstrap, unique_name, name="w", topics=topics, partitions=1)
    rows = labelled_corpus(120, seed=21)
    events = [r.to_event() for r in rows]
    for i, e in enumerate(events[::8]):  # one author floods: the posting-rate state matters
        e["author"] = {"id": "flooder", "name": "flooder"}
        e["posted_at"] = f"2026-01-01T00:{i:02d}:00+00:00"
    run(produce(kafka.bootstrap, topics.comments, events))
    got = run(_verdicts(kafka.bootstrap, topics.spam, {e["id"] for e in events}, timeout=120))
    assert len(got) == len(events), worker.log()

    pipeline = OfflinePipeline(Settings())
    for e in events:
        env = Envelope(comment_from_dict(e), {}, 0.0)
        pipeline.run(env)
        want = env.stages["spam"].to_dict()
        have = {k: got[e["id"]][k] for k in ("label", "score", "reasons", "version", "data")}
        assert have == {k: want[k] for k in have}, e["id"]
    assert any(r["code"] == "behaviour.rate" for m in got.values() for r in m["reasons"])
