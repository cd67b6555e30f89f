"""The stage group's agents in Faust's test context (no broker): one pass per comment, bad input and
failing stages to the dead-letter topic, remote state by request and reply, and an input message
acknowledged only when everything it produced is. Outbound messages go to a recording producer."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from faust.types import TP
from intervaltree import Interval, IntervalTree

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
    held: list[asyncio.Future[Any]] = field(default_factory=list)
    hold: bool = False  # sends stay unacknowledged (in `held`) until the test resolves them

    def __init__(self, settings: Settings, partitions: int = 1) -> None:
        self.sent, self.fail, self.held, self.hold = [], set(), [], False
        super().__init__(settings, Metrics(), partitions)
        assert self.model_follower is not None
        self.model_follower.ready.set()  # no model topic here: score with the rules at once
        if self.table is not None:  # state writes go to the changelog through the same recorder
            self.changelog.send = self._changelog  # type: ignore[method-assign]

    def _changelog(self, partition: int | None, key: bytes, value: bytes | None, *a: Any, **kw: Any) -> Any:
        return self._record(self.group.changelog, key, value or b"", partition, None)

    async def _start_offset(self, tp: Any) -> int:
        return 0  # Faust's test agents number what they are given from 0

    async def send(self, topic: str, key: bytes | None, value: bytes, *, partition: int | None = None,
                   headers: list[tuple[str, bytes]] | None = None) -> Awaitable[Any]:  # fmt: skip
        return self._record(topic, key, value, partition, headers)

    def _record(self, topic: str, key: bytes | None, value: bytes, partition: int | None,
                headers: list[tuple[str, bytes]] | None) -> asyncio.Future[Any]:  # fmt: skip
        self.sent.append(Sent(topic, key, value, partition, dict(headers or [])))
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.hold:
            self.held.append(fut)
        elif topic in self.fail:
            fut.set_exception(ConnectionError("not acknowledged"))
        else:
            fut.set_result(None)
        return fut

    def on(self, topic: str) -> list[Sent]:
        return [s for s in self.sent if s.topic == topic]


def _settings(**kw: Any) -> Settings:
    return Settings(store="memory://", brokers="localhost:1", **kw)


async def _settle() -> None:
    for _ in range(2000):  # futures' callbacks and spawned tasks (chained per partition) run
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


async def test_verdicts_wait_until_the_state_written_for_the_comment_is_durable() -> None:
    """A verdict published before its state write is durable could differ from the one the comment
    gets when it is read again after a crash (the state would not remember it)."""
    group = RecordingGroup(_settings())
    group.owned = {0}
    group.hold = True
    head = group.app.agents[group.group.group_id]
    async with head.test_context() as agent:
        event = await agent.put(orjson.dumps(COMMENT), key=b"c1")
        await _settle()
        assert group.on(group.group.changelog), "the comment wrote no state"
        assert not group.on(group.settings.topics.verdicts)  # held: its state is not durable yet
        group.hold = False
        for fut in group.held:
            fut.set_result(None)
        await _settle()
    assert len(group.on(group.settings.topics.verdicts)) == 1
    assert event.message.acked


async def test_a_state_write_the_brokers_refused_is_written_again_before_the_verdict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("streamproc.stream.PUBLISH_RETRY_SECONDS", 0.01)
    group = RecordingGroup(_settings())
    group.owned = {0}
    changelog = group.group.changelog
    group.fail = {changelog}
    head = group.app.agents[group.group.group_id]
    async with head.test_context() as agent:
        await agent.put(orjson.dumps(COMMENT), key=b"c1")
        await _settle()
        first = len(group.on(changelog))
        assert first and not group.on(group.settings.topics.verdicts)
        group.fail = set()
        await asyncio.sleep(0.05)
        await _settle()
    again = group.on(changelog)[first:]
    assert {m.key for m in again} == {m.key for m in group.on(changelog)[:first]}  # every key again
    assert len(group.on(group.settings.topics.verdicts)) == 1
    assert group.metrics.registry.get_sample_value("streamproc_publish_retries_total") >= 1


class _Consumer:
    """What the head's ordering uses of Faust's consumer (and of its thread)."""

    def __init__(self) -> None:
        self.seeks: list[tuple[Any, int]] = []
        self._gap: dict[Any, Any] = {}
        self._read_offset: dict[Any, int | None] = {}
        self._paused_partitions: set[Any] = set()
        self._thread = self

    def assignment(self) -> set[Any]:
        return {TP("in", 0), TP("in", 1), TP("other", 0)}

    def pause_partitions(self, tps: set[Any]) -> None:  # Faust: stop fetching them
        self._paused_partitions |= set(tps)

    def resume_partitions(self, tps: set[Any]) -> None:
        self._paused_partitions -= set(tps)

    def _ensure_consumer(self) -> Any:
        return self

    async def call_thread(self, method: Any, *args: Any) -> Any:
        return method(*args)

    def seek(self, tp: Any, offset: int) -> None:
        self.seeks.append((tp, offset))


def _event(offset: int, generation: int = 0) -> Any:
    message = SimpleNamespace(tp=TP("in", 0), partition=0, offset=offset, generation_id=generation)
    return SimpleNamespace(message=message)


async def test_the_head_takes_a_partition_in_order_and_reads_a_hole_again() -> None:
    group = RecordingGroup(_settings())
    consumer = _Consumer()
    group.app.consumer = consumer  # type: ignore[assignment]
    taken = [o for o in (0, 1, 1, 4, 2, 3, 4, 0) if await group._in_order(_event(o))]
    assert taken == [0, 1, 2, 3, 4]  # 1 again and 0 again skipped; at 4 it went back for 2
    assert consumer.seeks == [(TP("in", 0), 2)] and consumer._read_offset[TP("in", 0)] == 2
    assert group.metrics.registry.get_sample_value("streamproc_offset_gaps_total") == 1


async def test_a_hole_that_comes_back_three_times_is_the_logs_own() -> None:
    group = RecordingGroup(_settings())
    consumer = _Consumer()
    consumer._gap = defaultdict(IntervalTree)
    group.app.consumer = consumer  # type: ignore[assignment]
    taken = [o for o in (0, 5, 5, 5, 6) if await group._in_order(_event(o))]
    assert taken == [0, 5, 6] and len(consumer.seeks) == 2
    assert not await group._in_order(_event(7, generation=-1))  # fetched before a rebalance
    assert sorted(consumer._gap[TP("in", 0)]) == [Interval(1, 5)]  # Faust may commit past it


async def test_an_event_whose_generation_ended_while_the_head_asked_where_to_start_is_not_taken() -> None:
    group = RecordingGroup(_settings())
    group.app.consumer = _Consumer()  # type: ignore[assignment]
    asked = asyncio.Event()
    answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def start_offset(tp: Any) -> int:
        asked.set()
        return await answer

    group._start_offset = start_offset  # type: ignore[method-assign]
    group.app.consumer_generation_id = 5
    taking = asyncio.ensure_future(group._in_order(_event(0, generation=5)))
    await asked.wait()
    group.app.consumer_generation_id = 6  # a rebalance while the committed offset was asked
    await group._on_revoked(None, set())
    answer.set_result(0)
    assert not await taking
    assert 0 not in group._next_offset  # the next generation asks again
    answer = asyncio.get_running_loop().create_future()
    answer.set_result(0)
    assert await group._in_order(_event(0, generation=6))  # and takes its own offset 0


async def test_past_the_in_flight_limit_the_input_stops_being_fetched_and_the_head_never_waits() -> None:
    group = RecordingGroup(_settings(max_in_flight=4))
    consumer = _Consumer()
    group.app.consumer = consumer  # type: ignore[assignment]
    group.input.get_topic_name = lambda: "in"  # type: ignore[method-assign]
    seeks: list[tuple[TP, int]] = []

    async def seek(tp: TP, offset: int) -> None:
        assert tp in consumer._paused_partitions  # before the partition is fetched again
        seeks.append((tp, offset))

    group._seek = seek  # type: ignore[method-assign]
    events = []
    for offset in range(6):  # the head takes every event it was handed, past the limit too
        group._throttle()
        event = _event(offset)
        group.acks.read(event)
        events.append(event)
        event.ack = lambda: None
    assert consumer._paused_partitions == {TP("in", 0), TP("in", 1)}  # the input only
    group._next_offset[0] = 6  # where the head reads partition 0 next; partition 1 not read yet
    for event in events[:4]:
        group._release(event)
    await _settle()
    assert consumer._paused_partitions  # 2 in flight: not below half the limit yet
    group._release(events[4])
    await _settle()
    # Faust drops what it had fetched for a paused partition: it is read again from the head's offset.
    assert seeks == [(TP("in", 0), 6)]
    assert consumer._paused_partitions == set()
    group._throttle()
    group._paused = {TP("in", 0)}  # paused at a rebalance: Faust would keep the pause
    consumer._paused_partitions = {TP("in", 0), TP("other", 0)}
    await group._on_revoked(None, set())
    assert consumer._paused_partitions == {TP("other", 0)} and not group._paused


async def test_a_failing_periodic_task_is_counted_and_does_not_crash_the_worker() -> None:
    group = RecordingGroup(_settings())
    calls = 0

    async def resend() -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("Set changed size during iteration")

    tick = group._guarded(resend)
    await tick()
    await tick()  # the next tick runs again
    assert calls == 2 and tick.__name__ == "resend"
    errors = group.metrics.registry.get_sample_value(
        "streamproc_errors_total", {"stage": "timer", "kind": "RuntimeError"}
    )
    assert errors == 2


@pytest.mark.parametrize("moved_again", [False, True])
async def test_a_stall_acts_only_if_it_lasts_past_the_report_time(
    moved_again: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("streamproc.stream.STALL_REPORT_SECONDS", 0.0)
    acted: list[str] = []
    group = RecordingGroup(_settings())
    group.on_stalled = acted.append
    group._stalled("no progress on partitions 0 (20 s)")
    assert group.health.status == "stalled"
    assert group.metrics.registry.get_sample_value("streamproc_stalled") == 1
    if moved_again:
        group._stall_now = False  # the watchdog's next look found progress
    await _settle()
    if moved_again:
        assert acted == [] and group.health.status == "running"
        assert group.metrics.registry.get_sample_value("streamproc_stalled") == 0
    else:
        assert acted == ["no progress on partitions 0 (20 s)"] and group.health.status == "stalled"


async def test_a_rebalance_during_the_stop_leaves_the_consumer_to_the_stop() -> None:
    group = RecordingGroup(_settings())
    closed: list[bool] = []
    group.app.consumer = SimpleNamespace(close=lambda: closed.append(True))  # type: ignore[assignment]
    group.app._stopped.set()  # the worker is stopping
    await group.app._on_partitions_assigned(set())
    await group.app._on_partitions_revoked(set())
    assert not closed  # Faust's own would close the consumer's client from the wrong loop
