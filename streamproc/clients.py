"""Kafka client plumbing shared by the worker, the CLI, the demo and the spam stage: client options
(TLS/SASL), topic creation, producing event files, reading topics, and the spam model topic.

Nothing here knows about stages or Faust, so every other module can import it without cycles.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from streamproc.config import Settings, Topics
from streamproc.detect.model import LinearModel
from streamproc.errors import BrokerError, ConfigError, StreamprocError

log = logging.getLogger("streamproc.clients")

MODEL_KEY = b"spam-model"  # the one key of the model topic: compaction keeps the newest version
MAX_MODEL_BYTES = 900 * 1024  # under Kafka's default 1 MB request and message limits
MODEL_TOPIC_CONFIG = {"cleanup.policy": "compact"}


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for the cluster, or None for a plaintext listener."""
    if "SSL" not in settings.security_protocol:
        return None
    context = ssl.create_default_context(cafile=settings.ssl_cafile or None)
    if settings.ssl_certfile:
        context.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile or None)
    return context


def client_options(settings: Settings) -> dict[str, Any]:
    """aiokafka keyword arguments for the same cluster and credentials as the workers."""
    proto = settings.security_protocol
    opts: dict[str, Any] = {"bootstrap_servers": settings.bootstrap_servers, "security_protocol": proto}
    context = ssl_context(settings)
    if context is not None:
        opts["ssl_context"] = context
    if proto.startswith("SASL"):
        opts.update(
            sasl_mechanism=settings.sasl_mechanism,
            sasl_plain_username=settings.sasl_username,
            sasl_plain_password=settings.sasl_password.value,
        )
    return opts


# --- topics -------------------------------------------------------------------------------------


def model_topic(settings: Settings) -> NewTopic:
    """The model topic as it must be created: compacted, one partition (one key)."""
    return NewTopic(settings.topics.model, 1, settings.replication, topic_configs=MODEL_TOPIC_CONFIG)


def published_topics(settings: Settings) -> list[NewTopic]:
    """The topics of the published contract (comments, verdicts, dead letters, feedback, model)."""
    out = []
    for f in fields(Topics):
        name = getattr(settings.topics, f.name)
        if name == settings.topics.model:
            out.append(model_topic(settings))
        else:
            out.append(NewTopic(name, settings.partitions, settings.replication, topic_configs=None))
    return out


async def ensure_topics(settings: Settings, extra: Iterable[NewTopic] = ()) -> None:
    """Create the published topics and `extra` ones if they do not exist (another worker may
    create them at the same moment: that is fine)."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [t for t in [*published_topics(settings), *extra] if t.name not in existing]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
    finally:
        await admin.close()


async def partitions_of(settings: Settings, topic: str) -> int | None:
    """How many partitions `topic` has, or None when it does not exist."""
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic)
        return len(parts) if parts else None
    finally:
        await consumer.stop()


# --- producing ----------------------------------------------------------------------------------


def event_key(value: bytes) -> bytes | None:
    """The comment id of an encoded event, as the record key (None when it has none)."""
    import orjson

    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return str(obj["id"]).encode() if isinstance(obj, dict) and "id" in obj else None


async def produce_values(
    settings: Settings,
    values: Sequence[bytes],
    *,
    on_sent: Callable[[int], None] | None = None,
) -> int:
    """Publish raw event bytes to the comments topic, keyed by comment id when they have one, and
    wait until the brokers acknowledged every one (acks=all).

    Values are sent as they are, so malformed ones reach the workers' dead-letter topic.
    """
    producer = AIOKafkaProducer(**client_options(settings), linger_ms=5, acks="all")
    await producer.start()
    sent = 0
    try:
        futures = []
        for value in values:
            futures.append(await producer.send(settings.topics.comments, value, key=event_key(value)))
            sent += 1
            if on_sent is not None:
                on_sent(sent)
        await producer.flush()
        for fut in futures:
            await fut  # raises if the broker refused a message
    finally:
        await producer.stop()
    return sent


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Span:
    """Per-partition offsets to read: [start, end). `open_end` holds the partitions whose end is
    "the end as it is now" rather than a bound the caller set."""

    start: dict[int, int]
    end: dict[int, int]
    open_end: frozenset[int] = frozenset()

    @property
    def total(self) -> int:
        return sum(max(0, self.end[p] - self.start.get(p, 0)) for p in self.end)


async def topic_span(
    consumer: AIOKafkaConsumer,
    topic: str,
    *,
    since: float | None = None,
    until: float | None = None,
    start_offset: int | None = None,
    end_offset: int | None = None,
) -> Span:
    """The offsets of `topic` between two times (epoch seconds, by record timestamp) and/or
    offsets (the same offset on every partition), up to the end as it is now."""
    parts = consumer.partitions_for_topic(topic)
    if not parts:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic)
    if not parts:
        raise BrokerError(f"topic {topic!r} does not exist")
    tps = [TopicPartition(topic, p) for p in sorted(parts)]
    begin = await consumer.beginning_offsets(tps)
    end = await consumer.end_offsets(tps)
    start = {tp.partition: begin[tp] for tp in tps}
    stop = {tp.partition: end[tp] for tp in tps}
    open_end = set() if end_offset is not None else set(stop)  # no bound given: the end is "now"
    for bound, target, pick in ((since, start, max), (until, stop, min)):
        if bound is None:
            continue
        found = await consumer.offsets_for_times({tp: int(bound * 1000) for tp in tps})
        for tp in tps:
            hit = found.get(tp)
            offset = hit.offset if hit is not None else end[tp]
            target[tp.partition] = pick(target[tp.partition], offset)
            if hit is not None and target is stop:
                open_end.discard(tp.partition)
    if start_offset is not None:
        start = {p: max(o, start_offset) for p, o in start.items()}
    if end_offset is not None:
        stop = {p: min(o, end_offset) for p, o in stop.items()}
    return Span(start, stop, frozenset(open_end))


async def read_span(
    settings: Settings, topic: str, span: Span | None = None, *, idle_timeout: float = 30.0
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Every record of `topic` in `span` (default: all of it up to the end as it is now).

    Raises BrokerError if the brokers stop answering for `idle_timeout` seconds before the end.
    """
    consumer = AIOKafkaConsumer(
        **client_options(settings), group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    # aiokafka 0.14 fails a stop() that comes before its background task first ran: let it run.
    await asyncio.sleep(0)
    try:
        if span is None:
            span = await topic_span(consumer, topic)
        todo = {p: e for p, e in span.end.items() if e > span.start.get(p, 0)}
        if not todo:
            return
        consumer.assign([TopicPartition(topic, p) for p in todo])
        for p in todo:
            consumer.seek(TopicPartition(topic, p), span.start.get(p, 0))
        unsure = set(span.open_end)
        last = time.monotonic()
        while todo:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            if batch:
                last = time.monotonic()
            elif time.monotonic() - last > idle_timeout:
                raise BrokerError(f"reading {topic}: no records for {idle_timeout:.0f} s before its end")
            for tp, records in batch.items():
                if tp.partition in unsure and tp.partition in todo:
                    # Tansu answers ListOffsets with the last batch's first offset + 1, an end that
                    # can fall inside the last batch; the first fetch's high watermark is right.
                    unsure.discard(tp.partition)
                    todo[tp.partition] = max(todo[tp.partition], consumer.highwater(tp) or 0)
                for record in records:
                    if record.offset < todo.get(tp.partition, -1):
                        yield record
                if tp.partition in todo and await consumer.position(tp) >= todo[tp.partition]:
                    del todo[tp.partition]
                    consumer.pause(tp)
            for p in list(todo):  # compacted or transactional gaps: the position passed the end
                tp = TopicPartition(topic, p)
                if await consumer.position(tp) >= todo[p]:
                    del todo[p]
    finally:
        await consumer.stop()


# --- consumer groups ----------------------------------------------------------------------------


class GroupLag:
    """Reads how far consumer groups are behind on their input topics (end offset minus the
    group's committed offset), from outside the groups: a group whose workers are all down
    still shows its lag, which its own workers' metrics cannot."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            admin = AIOKafkaAdminClient(**client_options(self.settings))
            await admin.start()
            consumer = AIOKafkaConsumer(**client_options(self.settings), group_id=None)
            await consumer.start()
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer

    async def read(self, groups: dict[str, str]) -> dict[tuple[str, str], int]:
        """(group id, topic) -> messages not committed, for each group id -> its input topic;
        groups that never committed are left out."""
        admin, consumer = await self._clients()
        out = {}
        for group, topic in groups.items():
            committed = {
                tp: meta.offset
                for tp, meta in (await admin.list_consumer_group_offsets(group)).items()
                if tp.topic == topic and meta.offset >= 0
            }
            if not committed:
                continue
            ends = await consumer.end_offsets(list(committed))
            out[(group, topic)] = sum(max(0, ends[tp] - offset) for tp, offset in committed.items())
        return out

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        if self._admin is not None:
            await self._admin.close()
        self._admin = self._consumer = None


# --- the spam model topic -----------------------------------------------------------------------


def decode_model(value: bytes | None) -> LinearModel | None:
    if not value:
        return None
    try:
        return LinearModel.from_bytes(value)
    except StreamprocError as exc:
        log.warning("model_skipped reason=%s", exc)
        return None


def encode_model(model: LinearModel) -> bytes:
    data = model.to_bytes()
    if len(data) > MAX_MODEL_BYTES:
        raise ConfigError(f"model is {len(data)} bytes, limit {MAX_MODEL_BYTES}: train on fewer features")
    return data


async def _model_consumer(settings: Settings) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        **client_options(settings), group_id=None, enable_auto_commit=False, fetch_max_bytes=2 * MAX_MODEL_BYTES,
        max_partition_fetch_bytes=MAX_MODEL_BYTES,
    )  # fmt: skip
    await consumer.start()
    parts = consumer.partitions_for_topic(settings.topics.model)
    if not parts:
        await consumer._client.force_metadata_update()  # a topic created a moment ago
        parts = consumer.partitions_for_topic(settings.topics.model) or set()
    consumer.assign([TopicPartition(settings.topics.model, p) for p in sorted(parts)])
    await consumer.seek_to_beginning()
    return consumer


async def read_models(
    consumer: AIOKafkaConsumer, on_model: Callable[[LinearModel], None], *, until_end: bool
) -> None:
    """Feed every model on the assigned partitions to `on_model`; stop at the end if asked."""
    parts = list(consumer.assignment())
    end = await consumer.end_offsets(parts) if until_end else {}
    while True:
        if until_end and all([await consumer.position(tp) >= offset for tp, offset in end.items()]):
            return
        batch = await consumer.getmany(timeout_ms=500)
        for records in batch.values():
            for record in records:
                model = decode_model(record.value)
                if model is not None:
                    on_model(model)


async def latest_model(settings: Settings) -> LinearModel | None:
    """The newest model on the topic, or None if it holds none."""
    newest: list[LinearModel] = []

    def keep(model: LinearModel) -> None:
        if not newest or model.version > newest[0].version:
            newest[:] = [model]

    await ensure_topics(settings)
    consumer = await _model_consumer(settings)
    try:
        await read_models(consumer, keep, until_end=True)
    finally:
        await consumer.stop()
    return newest[0] if newest else None


async def publish_model(settings: Settings, model: LinearModel, *, bump: bool) -> int:
    """Publish a model; with `bump`, its version becomes one more than the newest published, so
    every worker takes it. Returns the published version."""
    try:
        if bump:
            current = await latest_model(settings)
            model.version = max(model.version, (current.version if current else 0) + 1)
        else:
            await ensure_topics(settings)
        producer = AIOKafkaProducer(**client_options(settings), max_request_size=MAX_MODEL_BYTES + 64 * 1024)
        await producer.start()
        try:
            await producer.send_and_wait(settings.topics.model, encode_model(model), key=MODEL_KEY)
        finally:
            await producer.stop()
    except KafkaError as exc:
        raise StreamprocError(f"could not publish the model to {settings.topics.model}: {exc!r}") from None
    return model.version


class ModelFollower:
    """Keeps a worker's model current: catches up with the model topic at start (`ready` is set
    then), and then applies every newer version as it arrives.

    Every worker reads the topic from the beginning without a consumer group (each sees all of
    it); the caller keeps a version only if it is newer, so re-reads and races are harmless.
    """

    def __init__(self, settings: Settings, on_model: Callable[[LinearModel], None]) -> None:
        self.settings = settings
        self.on_model = on_model
        self.ready = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                consumer = await _model_consumer(self.settings)
                try:
                    await read_models(consumer, self.on_model, until_end=True)
                    self.ready.set()
                    log.info("model_follower caught_up topic=%s", self.settings.topics.model)
                    await read_models(consumer, self.on_model, until_end=False)
                finally:
                    await consumer.stop()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker hiccup: retry, keep scoring with the model we have
                log.warning("model_follower_error error=%r; retrying", exc)
                await asyncio.sleep(2.0)
