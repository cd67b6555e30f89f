"""The stage group's agents in Faust's test context (no broker): one pass per comment, bad input and
failing stages to the dead-letter topic, remote state by request and reply, and an input message
acknowledged only when everything it produced is. Outbound messages go to a recording producer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from streamproc.cli import check_lines
from streamproc.config import Settings
from streamproc.gen.demo import generate
from streamproc.metrics import Metrics
from streamproc.stream import StreamGroup

COMMENT = {
    "id": "c1",
    "thread_id": "t1",
    "text": "hi there, nice article",
    "posted_at": "2026-11-23T10:00:00Z",
}


@dataclass
class Sent:
    topic: str
    key: bytes | None
    value: bytes
    partition: int | None
    headers: dict[str, bytes]


@dataclass
class RecordingGroup(StreamGroup):
    """A StreamGroup whose producer records what it is given; `fail` makes sends to a topic fail
    (the future gets the error), as a broker that does not acknowledge would."""

    sent: list[Sent] = field(default_factory=list)
    fail: set[str] = field(default_factory=set)

    def __init__(self, settings: Settings, partitions: int = 1) -> None:
        self.sent, self.fail = [], set()
        super().__init__(settings, Metrics(), partitions)
        assert self.model_follower is not None
        self.model_follower.ready.set()  # no model topic here: score with the rules at once

    async def send(self, topic: str, key: bytes | None, value: bytes, *, partition: int | None = None,
                   headers: list[tuple[str, bytes]] | None = None) -> Awaitable[Any]:  # fmt: skip
        self.sent.append(Sent(topic, key, value, partition, dict(headers or [])))
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if topic in self.fail:
            fut.set_exception(ConnectionError("not acknowledged"))
        else:
            fut.set_result(None)
        return fut

    def on(self, topic: str) -> list[Sent]:
        return [s for s in self.sent if s.topic == topic]


def _settings(**kw: Any) -> Settings:
    return Settings(store="memory://", brokers="localhost:1", **kw)


async def _settle() -> None:
    for _ in range(20):  # futures' callbacks and spawned tasks run
        await asyncio.sleep(0)


async def test_one_pass_publishes_every_stage_and_acks_the_input() -> None:
    group = RecordingGroup(_settings())
    group.owned = {0}
    head = group.app.agents[group.group.group_id]
    async with head.test_context() as agent:
        event = await agent.put(orjson.dumps(COMMENT), key=b"c1")
        await _settle()
    topics = group.settings.topics
    for topic in (topics.links, topics.duplicates, topics.spam, topics.verdicts):
        (msg,) = group.on(topic)
        assert msg.key == b"c1"
    final = orjson.loads(group.on(topics.verdicts)[0].value)
    assert set(final["stages"]) == {"links", "duplicates", "spam", "decide"} and final["action"] == "approve"
    assert set(orjson.loads(group.on(topics.links)[0].value)["stages"]) == {"links"}
    assert final["comment"] == COMMENT
    assert event.message.acked and len(group.acks) == 0
    assert not group.on(group.group.requests)  # one partition, all of it here: no request
    assert group.metrics.registry.get_sample_value("streamproc_actions_total", {"action": "approve"}) == 1


async def test_undecodable_input_is_dead_lettered_with_its_reason_and_acked() -> None:
    group = RecordingGroup(_settings())
    head = group.app.agents[group.group.group_id]
    async with head.test_context() as agent:
        bad = await agent.put(b"{broken")
        missing = await agent.put(orjson.dumps({"id": "x"}))
        await _settle()
    dead = group.on(group.settings.topics.dlq)
    assert [d.headers["streamproc-error-reason"] for d in dead] == [b"invalid_json", b"missing_field"]
    assert dead[0].value == b"{broken" and dead[0].headers["streamproc-stage"] == b"links"
    assert bad.message.acked and missing.message.acked
    assert not group.on(group.settings.topics.verdicts)


async def test_a_failing_stage_is_dead_lettered_and_the_comment_still_gets_a_held_verdict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    group = RecordingGroup(_settings())
    group.owned = {0}

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("poison")

    monkeypatch.setattr("streamproc.stages.duplicates.probe", explode)
    head = group.app.agents[group.group.group_id]
    async with head.test_context() as agent:
        event = await agent.put(orjson.dumps(COMMENT))
        after = await agent.put(orjson.dumps({**COMMENT, "id": "c2", "text": "another one"}))
        await _settle()
    (dead, _) = group.on(group.settings.topics.dlq)
    assert dead.headers["streamproc-error-reason"] == b"stage_error"
    assert dead.headers["streamproc-stage"] == b"duplicates"
    assert b"RuntimeError: poison" in dead.headers["streamproc-error-message"]
    verdicts = [orjson.loads(m.value) for m in group.on(group.settings.topics.verdicts)]
    assert [v["action"] for v in verdicts] == ["hold", "hold"]  # it kept consuming
    assert verdicts[0]["stages"]["duplicates"]["label"] == "error"
    assert event.message.acked and after.message.acked
    assert (
        group.metrics.registry.get_sample_value(
            "streamproc_errors_total", {"stage": "duplicates", "kind": "RuntimeError"}
        )
        == 2
    )


async def test_state_on_another_workers_partition_goes_by_request_and_reply() -> None:
    group = RecordingGroup(_settings(), partitions=2)
    group.owned = {0}  # partition 1 belongs to another worker
    head = group.app.agents[group.group.group_id]
    gather = group.app.agents[f"{group.group.group_id}-gather"]
    async with head.test_context() as agent:
        event = await agent.put(orjson.dumps({**COMMENT, "text": "a comment long enough to have many keys"}))
        await _settle()
    (request,) = group.on(group.group.requests)
    body = orjson.loads(request.value)
    assert request.partition == 1 and body["q"] == 1 and body["r"] == 0
    assert not group.on(group.settings.topics.verdicts) and not event.message.acked  # waiting
    # The other worker serves it (here: this group's own shard) and answers.
    from streamproc.chain import serve

    answers = serve(group.shard(1), body["ops"], group._apply_context())
    async with gather.test_context() as replies:
        await replies.put(orjson.dumps({"o": body["o"], "q": 1, "a": answers}), partition=0)
        await _settle()
    assert len(group.on(group.settings.topics.verdicts)) == 1 and event.message.acked
    assert not group.pending


async def test_an_unacknowledged_verdict_is_published_again_and_only_then_is_the_input_acked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("streamproc.stream.PUBLISH_RETRY_SECONDS", 0.01)
    group = RecordingGroup(_settings())
    group.owned = {0}
    group.fail = {group.settings.topics.verdicts}
    head = group.app.agents[group.group.group_id]
    async with head.test_context() as agent:
        event = await agent.put(orjson.dumps(COMMENT))
        await asyncio.sleep(0.05)
        assert not event.message.acked
        tries = len(group.on(group.settings.topics.verdicts))
        assert tries >= 2  # it keeps trying
        group.fail = set()
        await asyncio.sleep(0.05)
    assert event.message.acked
    assert group.metrics.registry.get_sample_value("streamproc_publish_retries_total") >= 1


async def test_the_stream_judges_as_check_does() -> None:
    stream = generate(120, seed=4)
    group = RecordingGroup(_settings())
    group.owned = {0}
    head = group.app.agents[group.group.group_id]
    async with head.test_context() as agent:
        for e in stream.events:
            await agent.put(orjson.dumps(e))
        await _settle()
    streamed = {
        orjson.loads(m.value)["comment_id"]: orjson.loads(m.value)
        for m in group.on(group.settings.topics.verdicts)
    }
    offline = {
        m["comment_id"]: m
        for _, m in check_lines([orjson.dumps(e) for e in stream.events], Settings())
        if isinstance(m, dict)
    }
    assert streamed.keys() == offline.keys()
    for cid, msg in offline.items():
        assert (streamed[cid]["action"], streamed[cid]["stages"]) == (msg["action"], msg["stages"]), cid
