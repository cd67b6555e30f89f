"""streamproc/recovery.py replaces Faust's Recovery.on_recovery_completed with a copy in which the
stream partitions are resumed after the seek. The copy must stay Faust's code otherwise: when a
faust-streaming upgrade changes the original, this fails and the patch must be looked at again."""

from __future__ import annotations

import ast
import asyncio
import inspect
import textwrap
from types import SimpleNamespace
from typing import Any

import faust
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP

from streamproc.recovery import FETCH_MAX_WAIT_MS, SeekFirstRecovery, SnapshotConsumer, use_snapshot_consumer


def _statements(func: object) -> list[str]:
    """The function's statements without docstring and debug logging, with the resume call
    marked, and cast(_App, ...) read as cast(Any, ...)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))  # type: ignore[arg-type]
    out = []
    for node in tree.body[0].body:  # type: ignore[attr-defined]
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        text = ast.unparse(node).replace("cast(_App,", "cast(Any,")
        text = "\n".join(line for line in text.splitlines() if "self.log.dev(" not in line)
        if text.startswith("await self._seek_uncommitted_to_start("):
            text = "SEEK_START"
        if text:
            out.append("RESUME" if text.startswith("consumer.resume_partitions(") else text)
    return out


def test_the_patch_is_fausts_code_with_the_resume_moved_after_the_seek() -> None:
    faust, ours = (
        _statements(Recovery.on_recovery_completed),
        _statements(SeekFirstRecovery.on_recovery_completed),
    )
    seek = next(i for i, s in enumerate(faust) if "perform_seek" in s)
    assert faust.index("RESUME") < seek, "Faust now resumes after the seek: streamproc/recovery.py may go"
    added = {"RESUME", "SEEK_START"}
    assert [s for s in ours if s not in added] == [s for s in faust if s != "RESUME"], (
        "Faust's on_recovery_completed changed: update streamproc/recovery.py from it"
    )
    seek = next(i for i, s in enumerate(ours) if "perform_seek" in s)
    assert ours.index("SEEK_START") == seek + 1 and ours.index("RESUME") == seek + 2


async def test_partitions_without_a_committed_offset_are_read_from_their_start() -> None:
    """aiokafka's seek_to_committed leaves them where the fetcher stopped; Faust dropped what it
    fetched there while its flow was stopped."""
    seeked: list[Any] = []

    async def seek_to_beginning(*tps: Any) -> None:
        seeked.extend(tps)

    comments, done, changelog = TP("comments", 0), TP("comments", 1), TP("app-state-changelog", 0)
    consumer = SimpleNamespace(
        _committed_offset={done: 40},
        _read_offset={comments: 78, done: 40},
        _thread=SimpleNamespace(seek_to_beginning=seek_to_beginning),
    )
    recovery = SimpleNamespace(
        app=SimpleNamespace(consumer=consumer, conf=SimpleNamespace(consumer_auto_offset_reset="earliest")),
        _is_changelog_tp=lambda tp: tp.topic.endswith("-changelog"),
    )
    await SeekFirstRecovery._seek_uncommitted_to_start(recovery, {comments, done, changelog})  # type: ignore[arg-type]
    assert [(tp.topic, tp.partition) for tp in seeked] == [("comments", 0)]
    assert consumer._read_offset == {done: 40}


class _Fetching(SimpleNamespace):
    """Just what `_wait_next_records` touches of a Faust consumer, with an aiokafka-like fetch
    during which recovery pauses its changelog partition (the live active set becomes empty)."""

    def __init__(self, buffered: dict[TP, list[int]]) -> None:
        live = {CHANGELOG}
        super().__init__(
            flow_active=True,
            not_waiting_next_records=SimpleNamespace(set=lambda: None),
            app=SimpleNamespace(client_only=False),
            live=live,
            buffered=buffered,
        )
        self._get_active_partitions = lambda: live

    async def _getmany(self, active_partitions: set[TP], timeout: float) -> dict[TP, list[int]]:
        self.live.discard(CHANGELOG)  # the pause, while the fetch waits
        # aiokafka's Fetcher.fetched_records: filters by the partitions only when there are any
        return {tp: r for tp, r in self.buffered.items() if not active_partitions or tp in active_partitions}


CHANGELOG, STREAM = TP("app-state-changelog", 0), TP("comments", 0)


def _delivered(wait_next_records: Any) -> dict[TP, list[int]]:
    """What Faust's getmany hands on: the records of partitions in the returned active set."""
    fake = _Fetching({CHANGELOG: [7], STREAM: [0, 1, 2]})
    records, active = asyncio.run(wait_next_records(fake, 1.0))
    return {tp: r for tp, r in records.items() if active is None or tp in active}


def test_a_pause_during_a_fetch_loses_nothing() -> None:
    """With Faust's own method the fetch returns every buffered record, the paused stream
    partition's too, and Faust then drops them all as not active, the changelog record recovery
    was waiting for included (aiokafka has moved past them: recovery or the partition stalls).
    The snapshot delivers the changelog record and leaves the stream's in aiokafka for later."""
    assert _delivered(Consumer._wait_next_records) == {}  # the loss the patch is for
    assert _delivered(SnapshotConsumer._wait_next_records) == {CHANGELOG: [7]}


def test_the_snapshot_consumer_is_fausts_code_with_the_set_copied() -> None:
    """SnapshotConsumer._wait_next_records is Faust's method with one change: the active set is
    copied. When an upgrade changes the original, this fails and the copy must be looked at again."""

    def body(func: object) -> list[str]:  # without the signature and the bare annotation
        lines = ast.unparse(ast.parse(textwrap.dedent(inspect.getsource(func)))).splitlines()  # type: ignore[arg-type]
        return [line for line in lines[1:] if not line.strip().startswith("active_partitions: ")]

    ours = body(SnapshotConsumer._wait_next_records)
    copy = "set(self._get_active_partitions())"
    assert sum(copy in line for line in ours) == 1
    assert [line.replace(copy, "self._get_active_partitions()") for line in ours] == body(
        Consumer._wait_next_records
    ), "Faust's _wait_next_records changed: update SnapshotConsumer in streamproc/recovery.py from it"


async def test_the_worker_consumer_waits_briefly_for_records() -> None:
    """Faust creates its worker consumer with a fixed 1.5 s fetch wait; the broker answers one
    connection's requests in order, so every recovery step waited behind an idle fetch."""

    def fetch_wait(app: faust.App) -> int:
        thread = app.consumer._thread  # type: ignore[attr-defined]
        assert isinstance(thread, AIOKafkaConsumerThread)
        consumer = thread._create_worker_consumer(app.transport)
        return consumer._fetch_max_wait_ms  # type: ignore[no-any-return]

    assert fetch_wait(faust.App("t-faust", autodiscover=False, web_enabled=False)) == 1500
    app = faust.App("t-ours", autodiscover=False, web_enabled=False)
    use_snapshot_consumer(app)
    assert fetch_wait(app) == FETCH_MAX_WAIT_MS < 1500
