"""The spam model as shared state on the compacted model topic: publish a version, read the
latest, and follow the topic so that every worker scores with the current model.

One key (`MODEL_KEY`) holds the model, so compaction keeps exactly the newest version. Every
worker reads the topic from the beginning without a consumer group (each sees all of it); a
version replaces the worker's model only if it is newer, so re-reads and races are harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from streamproc.config import Settings
from streamproc.detect.model import LinearModel
from streamproc.errors import ConfigError, StreamprocError

log = logging.getLogger("streamproc.spam_model")

MODEL_KEY = b"spam-model"
MAX_MODEL_BYTES = 900 * 1024  # under Kafka's default 1 MB request and message limits
TOPIC_CONFIG = {"cleanup.policy": "compact"}


def _client_options(settings: Settings) -> dict[str, Any]:
    from streamproc.app import client_options  # app imports the stages: import late

    return client_options(settings)


def model_topic(settings: Settings) -> NewTopic:
    """The model topic as it must be created: compacted, one partition (one key)."""
    return NewTopic(settings.topics.model, 1, settings.replication, topic_configs=TOPIC_CONFIG)


async def ensure_model_topic(settings: Settings) -> None:
    """Create the model topic if it does not exist yet."""
    admin = AIOKafkaAdminClient(**_client_options(settings))
    await admin.start()
    try:
        if settings.topics.model not in set(await admin.list_topics()):
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([model_topic(settings)])
    finally:
        await admin.close()


def decode_model(value: bytes | None) -> LinearModel | None:
    if not value:
        return None
    try:
        return LinearModel.from_bytes(value)
    except StreamprocError as exc:
        log.warning("model_skipped reason=%s", exc)
        return None


async def _at_end(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]) -> bool:
    for tp, offset in end.items():
        if await consumer.position(tp) < offset:
            return False
    return True


async def read_models(
    consumer: AIOKafkaConsumer, on_model: Callable[[LinearModel], None], *, until_end: bool
) -> None:
    """Feed every model on the assigned partitions to `on_model`; stop at the end if asked."""
    parts = list(consumer.assignment())
    end = await consumer.end_offsets(parts) if until_end else {}
    while True:
        if until_end and await _at_end(consumer, end):
            return
        batch = await consumer.getmany(timeout_ms=500)
        for records in batch.values():
            for record in records:
                model = decode_model(record.value)
                if model is not None:
                    on_model(model)


async def _assigned_consumer(settings: Settings) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        **_client_options(settings), group_id=None, enable_auto_commit=False, fetch_max_bytes=2 * MAX_MODEL_BYTES,
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


async def latest_model(settings: Settings) -> LinearModel | None:
    """The newest model on the topic, or None if it holds none."""
    newest: list[LinearModel] = []

    def keep(model: LinearModel) -> None:
        if not newest or model.version > newest[0].version:
            newest[:] = [model]

    consumer = await _assigned_consumer(settings)
    try:
        await read_models(consumer, keep, until_end=True)
    finally:
        await consumer.stop()
    return newest[0] if newest else None


def encode_model(model: LinearModel) -> bytes:
    data = model.to_bytes()
    if len(data) > MAX_MODEL_BYTES:
        raise ConfigError(f"model is {len(data)} bytes, limit {MAX_MODEL_BYTES}: train on fewer features")
    return data


async def send_model(producer: AIOKafkaProducer, topic: str, model: LinearModel) -> None:
    await producer.send_and_wait(topic, encode_model(model), key=MODEL_KEY)


async def publish_model(settings: Settings, model: LinearModel, *, bump: bool) -> int:
    """Publish a model; with `bump`, its version becomes one more than the newest published, so
    every worker takes it. Returns the published version."""
    try:
        await ensure_model_topic(settings)
        if bump:
            current = await latest_model(settings)
            model.version = max(model.version, (current.version if current else 0) + 1)
        producer = AIOKafkaProducer(**_client_options(settings), max_request_size=MAX_MODEL_BYTES + 64 * 1024)
        await producer.start()
        try:
            await send_model(producer, settings.topics.model, model)
        finally:
            await producer.stop()
    except KafkaError as exc:
        raise StreamprocError(f"could not publish the model to {settings.topics.model}: {exc!r}") from None
    return model.version


class ModelFollower:
    """Keeps a worker's model current: catches up with the topic at start (`ready` is set then),
    and then applies every newer version as it arrives."""

    def __init__(self, settings: Settings, on_model: Callable[[LinearModel], None]) -> None:
        self.settings = settings
        self.on_model = on_model
        self.ready = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                await ensure_model_topic(self.settings)
                consumer = await _assigned_consumer(self.settings)
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
