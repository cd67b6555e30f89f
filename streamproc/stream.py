"""The Faust side of a stage group (topology.py): one pass per comment, state in place or one
round trip away, and an input offset committed only once every verdict it produced is durable.

Agents (all with concurrency 1; scale with partitions and processes):
- `<group>` on the group's input topic: decodes each message once, runs the chain (chain.py):
  prepares every stage, serves the state operations of partitions this worker owns in place,
  sends the others one request per partition, and finishes the stages when all answers are in.
  Its stream does not ack by itself: a message is acknowledged when its verdicts (or its dead
  letter) are acknowledged by the brokers, so a crash re-delivers exactly what was not finished.
- `<group>-state` on `<group>-state-requests`: serves requests from other workers of the group.
- `<group>-gather` on `<group>-state-replies`: hands answers back to the comments waiting here.

A comment that waits for another worker's answer is held in memory only: its input offset is not
committed, so if this worker dies or loses the partition, the new owner reads it again and the
state operations, which remember what they answered, answer the same. On a rebalance the waiting
comments are dropped for the same reason (Faust seeks every partition back to its committed
offset). A request that was not answered in REQUEST_RETRY_SECONDS is sent again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import faust
import orjson
from aiokafka.admin import NewTopic
from faust.types import TP, EventT

from streamproc import __version__
from streamproc.acks import InOrderAcks
from streamproc.chain import Chain, Finished, Work, serve, serve_here
from streamproc.clients import GroupLag, ModelFollower, ssl_context
from streamproc.config import Settings
from streamproc.detect.campaigns import stale_domains
from streamproc.detect.features import stale_authors
from streamproc.detect.model import LinearModel
from streamproc.detect.native import kernels
from streamproc.errors import DecodeError
from streamproc.events import Envelope, StageResult, decode_comment, decode_stage_message
from streamproc.feedback import model_ready, register_feedback
from streamproc.health import Health
from streamproc.metrics import Metrics
from streamproc.recovery import SeekFirstTableManager, use_snapshot_consumer
from streamproc.stages import build_stages
from streamproc.stages.duplicates import duplicate_config, wire
from streamproc.stages.spam import SpamStage
from streamproc.stages.stage import ApplyContext
from streamproc.state import Shard
from streamproc.tables import ChangelogSender, TablePartition
from streamproc.topology import STATE_TABLE, Group, all_groups, group_for, state_partition
from streamproc.watchdog import Watchdog

log = logging.getLogger("streamproc.stream")

LAG_INTERVAL_SECONDS = 5.0
WATCH_SECONDS = 10.0  # how often the watchdog looks
REBALANCE_STALL_FACTOR = 5  # a rebalance or recovery may take this many stall periods
LEAVE_SECONDS = 5.0  # how long a stalled worker tries to leave its group before it acts
STALL_REPORT_SECONDS = 20.0  # a stall is visible (metric, /healthz) this long before the restart
REQUEST_RETRY_SECONDS = 20.0  # a state request unanswered this long is sent again, then after
# twice as long each time (up to half the stall time): a busy peer is not buried in copies
SWEEP_SECONDS = 30.0  # how often stale domain and author keys are swept, a slice at a time
SWEEP_KEYS = 2000  # keys looked at per kind and partition per sweep
PUBLISH_RETRY_SECONDS = 2.0


def _credentials(settings: Settings) -> Any:
    context = ssl_context(settings)
    if settings.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password.value,
            mechanism=settings.sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def internal_topics(group: Group, settings: Settings, partitions: int) -> list[NewTopic]:
    """The group's internal topics as they must be created (partitioned like its input)."""
    compact = {"cleanup.policy": "compact"}
    out = []
    for name in group.internal_topics:
        config = compact if name == group.changelog else None
        out.append(NewTopic(name, partitions, settings.replication, topic_configs=config))
    if group.feedback_queue is not None:
        out.append(NewTopic(group.feedback_queue, 1, settings.replication))
    return out


class App(faust.App):
    def _on_rebalance_when_stopped(self) -> None:
        """A rebalance that reaches a stopping worker (its peers stop at the same time, as
        `docker compose stop` does) is let through. Faust "closes" the consumer here by running its
        client's close on the main loop, while that client lives in the consumer thread: the stop
        then hung until the shutdown bound killed the worker without its final commit (exit 4).
        The stop that is under way commits and leaves the group itself."""
        log.info("rebalance_during_stop: the stop under way leaves the group")


Write = tuple[TablePartition, bytes, Any]  # where, key, the changelog write's future


@dataclass(slots=True)
class Pending:
    """A comment waiting for other workers' answers."""

    work: Work
    event: EventT
    sent_at: float
    requests: dict[int, bytes] = field(default_factory=dict)  # partition -> request, for re-sending
    resent: int = 0  # times its requests were sent again
    writes: list[Write] = field(default_factory=list)  # state written here for it, maybe not durable


class StreamGroup:
    """The Faust app of one stage group and everything its agents share."""

    def __init__(
        self,
        settings: Settings,
        metrics: Metrics,
        partitions: int,
        *,
        health: Health | None = None,
        on_stalled: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.health = health or Health()
        self.on_stalled = on_stalled
        self.watchdog = Watchdog(settings.stall_seconds)
        # A lost request or reply is sent again well before the watchdog would call it a stall.
        self.request_retry = min(REQUEST_RETRY_SECONDS, settings.stall_seconds / 4)
        self._group_lag = GroupLag(settings)
        self._rebalance_since: float | None = None
        self._stall_now = False  # whether the watchdog's last look found the worker stalled
        self.metrics = metrics
        self.partitions = partitions
        self.group = group_for(settings.stages, settings.app_id)
        self.stages = build_stages(settings, self.group)
        self.chain = Chain(self.stages, partitions, metrics)
        self.duplicate_config = duplicate_config(settings)  # one per process: its caches are shared
        log.info("detection_kernels=%s", kernels())  # numpy: installed without a C compiler
        self.app = App(
            self.group.group_id,
            broker=settings.broker_urls,
            broker_credentials=_credentials(settings),
            store=settings.store,
            datadir=str(settings.data_dir),
            topic_partitions=partitions,
            topic_replication_factor=settings.replication,
            consumer_auto_offset_reset="earliest",
            web_enabled=False,
            autodiscover=False,
            producer_linger_ms=5,  # small batches: throughput without noticeable latency
            producer_acks=-1,  # a verdict is durable once all in-sync replicas have it
            # Notice topics created after start (by another worker) in seconds, not 5 minutes.
            consumer_metadata_max_age_ms=10_000,
            broker_session_timeout=settings.session_timeout,
            broker_heartbeat_interval=min(3.0, settings.session_timeout / 10),
            # Never exactly_once (open Faust bugs, see the design notes): at-least-once, with
            # verdicts keyed by comment id so that consumers upsert.
            processing_guarantee="at_least_once",
            # A rebalance or a stop must not wait for comments that wait for answers from
            # partitions that are being moved: they are read again from the committed offset.
            stream_wait_empty=False,
            # Stream partitions resumed only after the seek to their committed offsets
            # (streamproc/recovery.py): records fetched meanwhile could be lost at a takeover.
            TableManager=SeekFirstTableManager,
        )
        use_snapshot_consumer(self.app)  # fetched records are not dropped by a pause (recovery.py)
        self.topics = {
            role: getattr(settings.topics, role)
            for role in ("comments", "dlq", "links", "duplicates", "spam", "verdicts", "feedback", "model")
        }
        self.input = self._topic(self.topics[self.group.input])
        self.table: Any = None
        self.model_follower: ModelFollower | None = None
        self.shards: dict[int, Shard] = {}
        self.owned: set[int] = set()
        self.pending: dict[tuple[int, int], Pending] = {}
        # Messages read and not yet acknowledged, acknowledged in reading order (see acks.py).
        self.acks: InOrderAcks[EventT] = InOrderAcks(self._ack, lambda e: int(e.message.partition))
        self._paused: set[TP] = set()  # input partitions this worker stopped fetching (_throttle)
        self._resuming = False  # a _resume is under way
        # Input partition -> the offset the head must read next (see _in_order), and the gap
        # last found there with how often in a row (a gap that comes back is the log's own).
        self._next_offset: dict[int, int] = {}
        self._gaps: dict[int, tuple[int, int, int]] = {}
        self._finishing: dict[int, asyncio.Future[Any]] = {}  # partition -> its last finish waiting
        self._tasks: set[asyncio.Future[Any]] = set()
        # What each agent did since start, logged every WATCH_SECONDS at info level.
        self.counts: dict[str, int] = dict.fromkeys(
            ("read", "skipped", "finished", "requested", "resent", "served", "answered"), 0
        )
        self.stream_time = 0.0  # newest posted_at seen: the sweeps' clock
        self._sweep_cursor: dict[tuple[int, bytes], bytes] = {}
        self._decode: Callable[[bytes], Envelope] = (
            _decode_comment if self.group.input == "comments" else decode_stage_message
        )
        self._wire()

    # --- wiring ---------------------------------------------------------------------------------

    def _topic(self, name: str, *, internal: bool = False, partitions: int | None = None) -> Any:
        """Bytes in, bytes out: streamproc decodes with orjson itself, once, so that undecodable
        input reaches the dead-letter topic instead of Faust's error log."""
        return self.app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            internal=internal,
            partitions=(partitions or self.partitions) if internal else None,
        )

    def _wire(self) -> None:
        app, group = self.app, self.group
        for stage in self.stages:
            self.metrics.init_stage(stage.spec.name)
        app.agent(self.input, name=group.group_id, concurrency=1)(self._head)
        if group.state:
            self.table = app.Table(STATE_TABLE, key_type=bytes, value_type=bytes, partitions=self.partitions)
            self.changelog = ChangelogSender(self.table)
            sender = self.changelog

            async def send_changelog() -> None:
                await sender.run()

            app.task(send_changelog)

            @app.on_before_shutdown.connect
            async def flush_changelog(app: Any, **kwargs: Any) -> None:
                await sender.flush()  # before Faust flushes its producer on the way out

            self.requests = self._topic(group.requests, internal=True)
            self.replies = self._topic(group.replies, internal=True)
            app.agent(self.requests, name=f"{group.group_id}-state", concurrency=1)(self._serve)
            app.agent(self.replies, name=f"{group.group_id}-gather", concurrency=1)(self._gather)
            self._timer(5.0, self._resend)
            self._timer(SWEEP_SECONDS, self._sweep)
            self._timer(10.0, self._state_size)
            for cause in ("window", "budget"):
                self.metrics.evictions.labels(cause)
        spam = next((s for s in self.stages if isinstance(s, SpamStage)), None)
        if spam is not None:
            self._wire_model(spam)
        app.on_partitions_revoked.connect(self._on_revoked)
        app.on_partitions_assigned.connect(self._on_assigned)
        self._timer(LAG_INTERVAL_SECONDS, self._record_lag)
        self._timer(WATCH_SECONDS, self._watch)
        self._timer(self.settings.group_lag_seconds, self._record_group_lag)
        self.metrics.stalled.set(0)
        self.metrics.info.info({"version": __version__, "stages": ",".join(group.names)})

    def _timer(self, interval: float, work: Callable[[], Awaitable[None]]) -> None:
        self.app.timer(interval)(self._guarded(work))

    def _guarded(self, work: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """`work` with its failures logged and counted: an exception escaping a Faust timer
        crashes the whole worker; the next tick tries again."""

        async def guarded() -> None:
            try:
                await work()
            except Exception as exc:
                self.metrics.errors.labels("timer", type(exc).__name__[:40]).inc()
                log.exception("timer_error timer=%s", work.__name__)

        guarded.__name__ = guarded.__qualname__ = work.__name__  # Faust names the timer after it
        return guarded

    def _wire_model(self, spam: SpamStage) -> None:
        metrics = self.metrics
        metrics.model_version.set(spam.model.version)

        def on_model(model: LinearModel) -> None:
            # Ties go to the later record, as compaction keeps the later one.
            if model.version >= spam.model.version:
                if model.version > spam.model.version:
                    log.info("spam_model version=%s weights=%s", model.version, len(model.weights))
                spam.model = model
                metrics.model_version.set(model.version)

        follower = ModelFollower(self.settings, on_model)
        self.model_follower = follower

        async def follow_model() -> None:
            await follower.run()

        self.app.task(follow_model)
        register_feedback(
            self.app, self.settings, spam, follower, metrics, self._topic, str(self.group.feedback_queue)
        )

    # --- rebalances -----------------------------------------------------------------------------

    async def _on_revoked(self, sender: Any, revoked: set[TP], **kwargs: Any) -> None:
        # Every partition is read again from its committed offset after a rebalance: what waits
        # here would be judged twice, or by the wrong owner.
        waiting = len(self.pending)
        self.pending.clear()
        self._next_offset.clear()
        # The next generation's verdicts do not queue behind this one's (that may wait on writes
        # to partitions this worker no longer has).
        self._finishing.clear()
        self.metrics.pending.set(0)
        open_ = self.acks.clear()
        # Faust keeps a pause across a rebalance: the assignment would leave them paused for good.
        self.app.consumer._paused_partitions.difference_update(self._paused)
        self._paused = set()
        if open_:
            log.info(
                "rebalance dropped open=%s waiting=%s (read again from the committed offsets)", open_, waiting
            )

    async def _on_assigned(self, sender: Any, assigned: set[TP], **kwargs: Any) -> None:
        mine = {tp.partition for tp in assigned if tp.topic == self.input.get_topic_name()}
        self.watchdog.assigned(mine, time.monotonic())
        if not self.group.state:
            return
        owned = {
            tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == self.group.requests
        }
        # A shard's local index is rebuilt from its records when it is next used: a partition
        # that comes back may have been written by another worker meanwhile.
        self.shards = {q: s for q, s in self.shards.items() if q in owned and q in self.owned}
        self.owned = owned
        log.info("assigned state_partitions=%s", sorted(owned))

    def shard(self, partition: int) -> Shard:
        shard = self.shards.get(partition)
        if shard is None:
            view = TablePartition(self.table, self.group.requests, partition, send=self.changelog.send)
            shard = Shard(partition, view, view.scan, self.duplicate_config)
            started = time.perf_counter()
            remembered = shard.duplicates.remembered() if "index" in {k.name for k in self.group.state} else 0
            log.info(
                "state_partition_ready partition=%s duplicate_comments=%s seconds=%.2f",
                partition,
                remembered,
                time.perf_counter() - started,
            )
            self.shards[partition] = shard
        return shard

    # --- the head: one pass per comment ---------------------------------------------------------

    async def _head(self, stream: faust.StreamT) -> None:
        if self.model_follower is not None:
            await model_ready(self.model_follower)  # score with the shared model, not a stale file
        async for event in stream.noack().events():
            self._throttle()
            if not await self._in_order(event):
                self.counts["skipped"] += 1
                continue
            self.acks.read(event)
            self.counts["read"] += 1
            try:
                await self._begin(event)
            except Exception as exc:  # a bug in the stream itself: dead-letter, never drop silently
                log.exception(
                    "head_error partition=%s offset=%s", event.message.partition, event.message.offset
                )
                first = self.stages[0].spec.name  # the stream failed, not a stage: charged to the first
                self.metrics.errors.labels(first, type(exc).__name__[:40]).inc()
                await self._dead_letter_durably(event, first, "stage_error", f"{type(exc).__name__}: {exc}")

    async def _in_order(self, event: EventT) -> bool:
        """Whether `event` is the next message of its partition, from the committed offset on.

        Faust can deliver a partition's messages with a hole after a rebalance (a fetched batch
        goes on after the seek to the committed offset, and the records fetched again are dropped
        as already read), and it then commits past the hole: those comments would never get a
        verdict. The head so takes each partition's messages strictly in order from its committed
        offset: it skips what it already has, and at a hole it seeks back and reads again. Only a
        hole that comes back three times in a row is taken as the log's own (transaction markers).
        """
        msg = event.message
        if msg.generation_id != self.app.consumer_generation_id:
            return False  # fetched before the last rebalance: read again from the committed offset
        tp, offset = msg.tp, msg.offset
        expected = self._next_offset.get(msg.partition)
        if expected is None:
            expected = await self._start_offset(tp)
            if expected is None or msg.generation_id != self.app.consumer_generation_id:
                # No longer ours, or a rebalance came while asking: taken now, this event would
                # sit unacknowledged at the head of the next generation's queue and hold its
                # partition for good. Read again from the committed offset.
                return False
            self._next_offset[msg.partition] = expected
        if offset < expected:
            return False  # read again after a seek back: already in hand
        if offset > expected:
            at, to, times = self._gaps.get(msg.partition, (-1, -1, 0))
            times = times + 1 if (at, to) == (expected, offset) else 1
            self._gaps[msg.partition] = (expected, offset, times)
            consumer = self.app.consumer
            if times < 3:
                log.warning(
                    "offset_gap partition=%s expected=%s got=%s: reading again",
                    msg.partition,
                    expected,
                    offset,
                )
                self.metrics.offset_gaps.inc()
                consumer._gap.pop(tp, None)  # Faust would count the hole as acknowledged
                await self._seek(tp, expected)
                return False
            log.info("offset_gap_kept partition=%s from=%s to=%s", msg.partition, expected, offset)
            consumer._gap[tp].addi(expected, offset)  # the log's own hole: let the commit pass it
        self._gaps.pop(msg.partition, None)
        self._next_offset[msg.partition] = offset + 1
        return True

    async def _seek(self, tp: TP, offset: int) -> None:
        """Read `tp` again from `offset`. In the consumer's thread, between two fetches: aiokafka's
        fetcher fails (KeyError) when a seek from another thread drops records it is handing out."""
        consumer = self.app.consumer
        try:
            await self._in_consumer_thread(lambda client: client.seek, tp, offset)
        except Exception as exc:  # not assigned any more: nothing to read
            log.info("seek_failed partition=%s error=%r", tp.partition, exc)
            return
        consumer._read_offset[tp] = offset or None  # as Faust's own seek: deliver from `offset`

    async def _in_consumer_thread(self, method: Callable[[Any], Callable[..., Any]], *args: Any) -> Any:
        """Call `method(aiokafka consumer)(*args)` where that consumer runs: Faust's consumer thread."""
        thread = self.app.consumer._thread
        return await thread.call_thread(method(thread._ensure_consumer()), *args)

    async def _start_offset(self, tp: TP) -> int | None:
        """Where the group's reading of `tp` starts: its committed offset, or the log start."""
        consumer = self.app.consumer
        try:
            committed = await self._in_consumer_thread(lambda client: client.committed, tp)
            if committed is None:
                committed = (await consumer.earliest_offsets(tp))[tp]
        except Exception as exc:
            log.warning("start_offset_failed partition=%s error=%r", tp.partition, exc)
            return None
        log.info("start_offset partition=%s offset=%s", tp.partition, committed)
        return int(committed)

    def _throttle(self) -> None:
        """Past `max_in_flight` comments read and not finished, stop fetching the input (what was
        fetched already is still taken). The head never waits for room itself: while
        it waited, its queue filled, and Faust's delivery, which blocks on a full queue, stopped
        handing out the state replies that the comments in flight were waiting for (a deadlock
        of two workers under a burst). The default limit also bounds the queue in front of the
        other workers' state agents: at 5,000, a burst queued requests for longer than
        REQUEST_RETRY_SECONDS, and the re-sent copies fed the queue."""
        if self._paused or len(self.acks) < self.settings.max_in_flight:
            return
        consumer = self.app.consumer
        topic = self.input.get_topic_name()
        self._paused = {tp for tp in consumer.assignment() if tp.topic == topic} - consumer._paused_partitions
        consumer.pause_partitions(self._paused)
        log.info(
            "input_paused in_flight=%s partitions=%s",
            len(self.acks),
            sorted(tp.partition for tp in self._paused),
        )

    def _ack(self, event: EventT) -> None:
        event.ack()
        self.counts["finished"] += 1
        self.watchdog.finished(event.message.partition, event.message.offset, time.monotonic())

    def _release(self, event: EventT, *, ack: bool = True) -> None:
        """Done with `event`: finished (acknowledged once all read before it are), or, when it
        is read again after a rebalance anyway, only forgotten (a rebalance cleared it)."""
        if ack:
            self.acks.finished(event)
        if self._paused and not self._resuming and len(self.acks) < max(1, self.settings.max_in_flight // 2):
            self._resuming = True
            self._spawn(self._resume())

    async def _resume(self) -> None:
        """Fetch the paused input partitions again, each from the offset the head reads next.

        Faust drops the records it had fetched for a partition that is paused when it hands them
        out, while aiokafka has moved past them. The head notices such a hole at the next record
        of the partition, but at the end of a backlog no next record comes: both workers of a
        burst test sat idle with their input read to the end and 300 comments unjudged, and
        after each watchdog restart the same again."""
        try:
            for tp in sorted(self._paused):
                expected = self._next_offset.get(tp.partition)
                if expected is not None:
                    await self._seek(tp, expected)
            self.app.consumer.resume_partitions(self._paused)
            self._paused = set()
        finally:
            self._resuming = False

    async def _begin(self, event: EventT) -> None:
        msg = event.message
        for stage in self.stages:
            self.metrics.consumed.labels(stage.spec.name).inc()
        try:
            env = self._decode(msg.value)
        except DecodeError as exc:
            await self._dead_letter_durably(event, self.stages[0].spec.name, exc.reason, str(exc))
            return
        if msg.generation_id != self.app.consumer_generation_id:
            self._release(event, ack=False)  # read before the last rebalance: it is read again
            return
        self.stream_time = max(self.stream_time, env.comment.posted_at)
        work = self.chain.begin(env)
        ctx = self._apply_context()
        remote: dict[int, list[list[Any]]] = {}
        writes: list[Write] = []
        for q, requests in work.requests().items():
            if q in self.owned:
                shard = self.shard(q)
                serve_here(self.chain, work, q, shard, ctx)
                writes += _taken(shard)
            else:
                remote[q] = requests
        if not remote:
            await self._finish(work, event, writes)
            return
        pending = Pending(work, event, time.monotonic(), writes=writes)
        self.pending[(msg.partition, msg.offset)] = pending
        self.metrics.pending.set(len(self.pending))
        for q, requests in remote.items():
            body = orjson.dumps(
                {"r": msg.partition, "o": msg.offset, "q": q, "ops": requests},
                default=wire,
                option=orjson.OPT_PASSTHROUGH_DATACLASS,  # the probe goes through `wire`
            )
            pending.requests[q] = body
            await self.send(self.group.requests, None, body, partition=q)
            self.metrics.state_requests.inc()
            self.counts["requested"] += 1

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        *,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Awaitable[Any]:
        """Hand one message to the producer; the result resolves when the brokers acknowledged it
        (Faust's producer, without its per-message bookkeeping: the head tracks acknowledgements)."""
        return await self.app.producer.send(topic, key, value, partition, None, headers)

    def _spawn(self, coro: Any) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._tasks.discard)
        return task

    def _apply_context(self) -> ApplyContext:
        return ApplyContext(wall=time.time(), on_evict=self._evicted)

    def _evicted(self, cause: str) -> None:
        self.metrics.evictions.labels(cause).inc()

    async def _finish(self, work: Work, event: EventT, writes: list[Write]) -> None:
        # Its verdicts wait for its state to be durable, the stream does not; a partition's
        # verdicts still go out in its order (the next group reads them in that order).
        p = event.message.partition
        before = self._finishing.get(p)
        if writes or (before is not None and not before.done()):
            self._finishing[p] = self._spawn(self._finish_when_written(work, event, writes, before))
            return
        await self._finish_now(work, event)

    async def _finish_now(self, work: Work, event: EventT) -> None:
        done = self.chain.finish(work)
        for name, exc in done.failures:
            self.metrics.errors.labels(name, type(exc).__name__[:40]).inc()
            log.error(
                "stage_error stage=%s comment_id=%s error=%s", name, done.env.comment.id, type(exc).__name__
            )
            log.debug("stage_error detail", exc_info=exc)
        failures = [(name, f"{type(exc).__name__}: {exc}") for name, exc in done.failures]

        async def publish() -> list[Awaitable[Any]]:
            futures = [await self._dead_letter(event, name, "stage_error", why) for name, why in failures]
            return futures + await self._publish(done)

        self._when_durable(await publish(), event, publish)

    async def _finish_when_written(
        self, work: Work, event: EventT, writes: list[Write], before: asyncio.Future[Any] | None
    ) -> None:
        if before is not None:
            await asyncio.wait([before])
        generation = event.message.generation_id
        if await self._written(writes, lambda: self.app.consumer_generation_id == generation):
            await self._finish_now(work, event)
        else:
            self._release(event, ack=False)  # a rebalance since: it is read again

    async def _reply_when_written(self, writes: list[Write], q: int, reply: bytes, to: int) -> None:
        if await self._written(writes, lambda: q in self.owned):
            await self.send(self.group.replies, None, reply, partition=to)

    async def _written(self, writes: list[Write], still_wanted: Callable[[], bool]) -> bool:
        """Wait until the brokers have every state write in `writes`, writing the failed ones
        again (their key's current value) while `still_wanted()`; False when it stopped being."""
        while True:
            failed = []
            for view, key, fut in writes:
                try:
                    await fut
                except Exception as exc:
                    failed.append((view, key))
                    error = exc
            if not failed:
                return True
            self.metrics.publish_retries.inc()
            log.warning("state_write_failed writes=%s error=%r; retrying", len(failed), error)
            await asyncio.sleep(PUBLISH_RETRY_SECONDS)
            if not still_wanted():
                return False
            writes = [(view, key, view.write_again(key)) for view, key in failed]

    async def _publish(self, done: Finished) -> list[Awaitable[Any]]:
        """Each stage's verdict to its topic, keyed by comment id; each carries the comment and
        the results of the stages up to it."""
        env = done.env
        # The event as the producer sent it, when we read it so: no second encoding.
        comment = orjson.Fragment(env.source if env.source is not None else orjson.dumps(env.comment.raw))
        earlier = {k: v.to_dict() for k, v in env.stages.items() if k not in {r.stage for r in done.results}}
        key = env.comment.id.encode()
        futures = []
        now = time.time()
        for spec, result in zip(self.group.stages, done.results, strict=True):
            earlier[result.stage] = result.to_dict()
            msg = _verdict_message(env, result, earlier, comment, now)
            futures.append(await self.send(self.topics[spec.output], key, msg))
            self.metrics.verdicts.labels(result.stage, result.label).inc()
        if done.action is not None:
            self.metrics.actions.labels(done.action).inc()
            self.metrics.end_to_end.observe(max(0.0, now - env.comment.posted_at))
            self.metrics.pipeline.observe(max(0.0, now - env.received_at))
        return futures

    async def _dead_letter_durably(self, event: EventT, stage: str, reason: str, message: str) -> None:
        """Dead-letter `event`, and acknowledge it once the dead letter is acknowledged."""

        async def publish() -> list[Awaitable[Any]]:
            return [await self._dead_letter(event, stage, reason, message)]

        self._when_durable(await publish(), event, publish)

    async def _dead_letter(self, event: EventT, stage: str, reason: str, message: str) -> Awaitable[Any]:
        """The original bytes to the dead-letter topic, with what was wrong and where."""
        msg = event.message
        headers = [
            ("streamproc-error-reason", reason.encode()),
            ("streamproc-error-message", message[:1000].encode()),
            ("streamproc-stage", stage.encode()),
            ("streamproc-source-topic", str(msg.topic).encode()),
            ("streamproc-source-partition", str(msg.partition).encode()),
            ("streamproc-source-offset", str(msg.offset).encode()),
        ]
        self.metrics.dead_letters.labels(stage, reason).inc()
        log.warning(
            "dead_letter stage=%s reason=%s topic=%s partition=%s offset=%s",
            stage,
            reason,
            msg.topic,
            msg.partition,
            msg.offset,
        )
        value = msg.value if msg.value is not None else b""
        return await self.send(self.topics["dlq"], msg.key, value, headers=headers)

    def _when_durable(
        self,
        futures: list[Awaitable[Any]],
        event: EventT,
        again: Callable[[], Awaitable[list[Awaitable[Any]]]],
    ) -> None:
        """Acknowledge `event` once the brokers acknowledged every message it produced; if one
        failed (the brokers may be away for a while), publish them all again (`again`) later."""
        left = len(futures)
        if not left:
            self._release(event)
            return
        failed = False

        def one_done(fut: Any) -> None:
            nonlocal left, failed
            left -= 1
            if fut.cancelled() or fut.exception() is not None:
                if not failed:
                    self.metrics.publish_retries.inc()
                    log.warning(
                        "publish_failed partition=%s offset=%s error=%r; retrying",
                        event.message.partition,
                        event.message.offset,
                        None if fut.cancelled() else fut.exception(),
                    )
                failed = True
            if left == 0:
                if failed:
                    self._spawn(self._publish_again(event, again))
                else:
                    self._release(event)

        for fut in futures:
            asyncio.ensure_future(fut).add_done_callback(one_done)

    async def _publish_again(
        self, event: EventT, again: Callable[[], Awaitable[list[Awaitable[Any]]]]
    ) -> None:
        await asyncio.sleep(PUBLISH_RETRY_SECONDS)
        if event.message.generation_id != self.app.consumer_generation_id:
            self._release(event, ack=False)  # a rebalance since: it is read again anyway
            return
        try:
            futures = await again()
        except Exception:
            log.exception(
                "publish_again_failed partition=%s offset=%s", event.message.partition, event.message.offset
            )
            self._spawn(self._publish_again(event, again))
            return
        self._when_durable(futures, event, again)

    # --- serving other workers' requests ------------------------------------------------------

    async def _serve(self, stream: faust.StreamT) -> None:
        async for event in stream.events():
            try:
                body = orjson.loads(event.value)
                q = event.message.partition
                shard = self.shard(q)
                answers = serve(shard, body["ops"], self._apply_context())
                reply = orjson.dumps({"o": body["o"], "q": q, "a": answers})
                self.counts["served"] += 1
                writes = _taken(shard)
                if writes:  # answered once durable: the asker publishes verdicts built on it
                    self._spawn(self._reply_when_written(writes, q, reply, body["r"]))
                else:
                    await self.send(self.group.replies, None, reply, partition=body["r"])
            except Exception:
                self.metrics.errors.labels("state", "request").inc()
                log.exception(
                    "state_request_error partition=%s offset=%s",
                    event.message.partition,
                    event.message.offset,
                )

    async def _gather(self, stream: faust.StreamT) -> None:
        async for event in stream.events():
            try:
                body = orjson.loads(event.value)
                self.counts["answered"] += 1
                pending = self.pending.get((event.message.partition, body["o"]))
                if pending is None:
                    continue  # answered twice, or waited for before a rebalance
                self.chain.answer(pending.work, body["q"], body["a"])
                if not pending.work.waiting:
                    del self.pending[(event.message.partition, body["o"])]
                    self.metrics.pending.set(len(self.pending))
                    await self._finish(pending.work, pending.event, pending.writes)
            except Exception:
                self.metrics.errors.labels("state", "reply").inc()
                log.exception(
                    "state_reply_error partition=%s offset=%s", event.message.partition, event.message.offset
                )

    async def _resend(self) -> None:
        now = time.monotonic()
        longest = self.settings.stall_seconds / 2
        resent: set[int] = set()
        for pending in list(self.pending.values()):
            if now - pending.sent_at < min(self.request_retry * 2**pending.resent, longest):
                continue
            pending.sent_at = now
            pending.resent += 1
            for q in sorted(pending.work.waiting):  # a copy: answers arrive during the sends
                resent.add(q)
                self.metrics.state_requests.inc()
                self.counts["resent"] += 1
                await self.send(self.group.requests, None, pending.requests[q], partition=q)
        if resent:
            log.warning("state_requests_resent partitions=%s waiting=%s", sorted(resent), len(self.pending))

    # --- housekeeping ---------------------------------------------------------------------------

    async def _sweep(self) -> None:
        """Delete domain and author keys nobody touched within their window, a slice of each
        owned partition at a time (the cores ignore such rows anyway; this bounds the state)."""
        kinds = {k.name for k in self.group.state}
        stale = {b"c:": stale_domains, b"a:": stale_authors}
        prefixes = [p for p, kind in ((b"c:", "campaigns"), (b"a:", "authors")) if kind in kinds]
        for q in sorted(self.owned):
            shard = self.shard(q)
            view: TablePartition = shard.data  # type: ignore[assignment]
            for prefix in prefixes:
                cursor = self._sweep_cursor.get((q, prefix), prefix)
                items = []
                for key, value in view.scan(prefix, start=cursor):
                    items.append((key, value))
                    if len(items) >= SWEEP_KEYS:
                        break
                self._sweep_cursor[(q, prefix)] = items[-1][0] + b"\0" if len(items) >= SWEEP_KEYS else prefix
                n = len(prefix)
                decoded = [
                    (k.decode(), orjson.loads(v))
                    for k, v in items
                    if state_partition(k[n:], self.partitions) == q
                ]
                for key in stale[prefix](decoded, self.stream_time):
                    del view[key.encode()]
            view.take_writes()  # no comment waits for these

    async def _state_size(self) -> None:
        if "index" in {k.name for k in self.group.state}:
            self.metrics.index_comments.set(
                sum(self.shard(q).duplicates.remembered() for q in sorted(self.owned))
            )

    async def _watch(self) -> None:
        """The watchdog's look (see watchdog.py): stalled input partitions, or a rebalance or
        recovery that does not end."""
        app, now = self.app, time.monotonic()
        log.info(
            "stream_stats %s open=%s waiting=%s owned=%s generation=%s rebalancing=%s",
            " ".join(f"{k}={v}" for k, v in self.counts.items()),
            len(self.acks),
            len(self.pending),
            sorted(self.owned),
            app.consumer_generation_id,
            app.rebalancing,
        )
        why = await self._stall_reason(now)
        self._stall_now = why is not None
        if why is not None:
            self._stalled(why)

    async def _stall_reason(self, now: float) -> str | None:
        """Why the worker is stalled now, or None."""
        app = self.app
        if app.rebalancing or app.in_recovery:
            self._rebalance_since = self._rebalance_since or now
            if now - self._rebalance_since > REBALANCE_STALL_FACTOR * self.settings.stall_seconds:
                return f"rebalance or recovery running for {now - self._rebalance_since:.0f} s"
            return None
        self._rebalance_since = None
        tps = [tp for tp in app.consumer.assignment() if tp.topic == self.input.get_topic_name()]
        if not tps:
            return None
        try:
            ends = await app.consumer.highwaters(*tps)
        except Exception as exc:  # the broker is away: the stall clock keeps running
            log.info("watchdog no_end_offsets error=%r", exc)
            ends = {}
        committed = {tp.partition: app.consumer._committed_offset.get(tp) for tp in tps}
        stuck = self.watchdog.stalled({tp.partition: o for tp, o in ends.items()}, committed, now)
        if not stuck:
            return None
        self._log_fetch_state(tps)
        parts = ", ".join(f"{p} ({s:.0f} s)" for p, s in sorted(stuck.items()))
        return f"no progress on partitions {parts} of {self.input.get_topic_name()} with messages waiting"

    def _log_fetch_state(self, tps: list[TP]) -> None:
        """What Faust's fetching looks like for a stalled worker: where the known ways it gets
        stuck (paused flow, partitions left out of the fetch, full buffers) would show."""
        app, consumer = self.app, self.app.consumer
        channels = app.topics._tp_index.get(tps[0], ()) if tps else ()
        log.info(
            "stall_detail flow=%s consumer_flow=%s active=%s paused=%s buffered=%s read_offsets=%s "
            "committed=%s queued=%s",
            app.flow_control.is_active(),
            consumer.flow_active,
            sorted(tp.partition for tp in consumer._get_active_partitions() if tp in tps),
            sorted(tp.partition for tp in consumer._paused_partitions if tp in tps),
            sorted(tp.partition for tp in consumer._buffered_partitions if tp in tps),
            {tp.partition: consumer._read_offset.get(tp) for tp in tps},
            {tp.partition: consumer._committed_offset.get(tp) for tp in tps},
            [chan.queue.qsize() for chan in channels],
        )
        try:  # and aiokafka's view of them: what its fetcher would fetch
            assignment = consumer._thread._ensure_consumer()._subscription.subscription.assignment
            states = {tp.partition: assignment.state_value(tp) for tp in tps}
            log.info(
                "stall_detail_fetcher %s",
                " ".join(
                    f"{p}:status={st._status.name},position={st._position},paused={st._paused}"
                    for p, st in states.items()
                    if st is not None
                ),
            )
        except Exception as exc:  # no assignment at hand: nothing to show
            log.info("stall_detail_fetcher unavailable error=%r", exc)

    def _stalled(self, why: str) -> None:
        self._stall_now = True
        if self.health.status == "stalled":
            return  # already acting on it
        log.error("worker_stalled %s; acting in %.0f s", why, STALL_REPORT_SECONDS)
        self.metrics.stalled.set(1)
        self.health.status = "stalled"
        self.health.detail = {"reason": why}
        if self.on_stalled is not None:
            self._spawn(self._act_on_stall(self.on_stalled, why))

    async def _act_on_stall(self, on_stalled: Callable[[str], None], why: str) -> None:
        # Stay visible long enough for a scrape (streamproc_stalled, /healthz 503) first.
        await asyncio.sleep(STALL_REPORT_SECONDS)
        if not self._stall_now:  # it moved again meanwhile (a paused process, a slow rebalance)
            log.warning("worker_stall_cleared: progress again, no restart")
            self.metrics.stalled.set(0)
            self.health.status, self.health.detail = "running", {}
            return
        # Leave the group first: a member that just vanishes holds up the next rebalance, and so
        # this worker's own restart, until the broker gives up on it (rebalance timeout).
        try:
            # close(): stop the coordination first, or it joins again right after leaving.
            leaving = self._in_consumer_thread(lambda client: client._coordinator.close)
            await asyncio.wait_for(leaving, LEAVE_SECONDS)
        except Exception as exc:  # the broker may be the problem: restart anyway
            log.warning("leave_group_failed error=%r", exc)
        on_stalled(why)

    async def _record_group_lag(self) -> None:
        groups = {
            g.group_id: getattr(self.settings.topics, g.input) for g in all_groups(self.settings.app_id)
        }
        try:
            lags = await self._group_lag.read(groups)
        except Exception as exc:  # brokers away: keep the last readings
            log.info("group_lag unavailable error=%r", exc)
            await self._group_lag.close()
            return
        for (group, topic), lag in lags.items():
            self.metrics.group_lag.labels(group, topic).set(lag)

    async def _record_lag(self) -> None:
        consumer = self.app.consumer
        lag: dict[tuple[str, int], int] = {}
        for tp in consumer.assignment():
            position = await consumer.position(tp)
            highwater = consumer.highwater(tp)
            if position is not None and highwater is not None:
                lag[(tp.topic, tp.partition)] = max(0, highwater - position)
        self.metrics.set_lag(lag)


def _taken(shard: Shard) -> list[Write]:
    view: TablePartition = shard.data  # type: ignore[assignment]
    return [(view, key, fut) for key, fut in view.take_writes()]


def _decode_comment(data: bytes) -> Envelope:
    return Envelope(decode_comment(data), {}, time.time(), source=data)


def _verdict_message(
    env: Envelope, result: StageResult, stages: dict[str, Any], comment: orjson.Fragment, now: float
) -> bytes:
    c = env.comment
    msg: dict[str, Any] = {
        "comment_id": c.id,
        "thread_id": c.thread_id,
        "site": c.site,
        **result.to_dict(),
        "decided_at": now,
        "received_at": env.received_at,
        "posted_at": c.raw.get("posted_at"),
        "stages": stages,
        "comment": comment,
    }
    if result.stage == "decide":
        msg["action"] = result.data["action"]
    return orjson.dumps(msg)
