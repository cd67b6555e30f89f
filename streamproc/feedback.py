"""Moderators' feedback into the spam model: labels from the feedback topic become new versions of
the model on the compacted model topic, which every worker follows (clients.ModelFollower).

Labels are funnelled into a one-partition internal topic, so exactly one worker of the group that
runs the spam stage (the owner of that partition) applies them and publishes new versions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import faust
from prometheus_client import Counter

from streamproc.clients import MODEL_KEY, ModelFollower, encode_model
from streamproc.config import Settings
from streamproc.detect.model import LinearModel
from streamproc.errors import DecodeError
from streamproc.metrics import Metrics
from streamproc.stages.spam import SpamStage, feedback_example

log = logging.getLogger("streamproc.feedback")

READY_TIMEOUT = 30.0  # seconds to wait for the model topic at start before scoring with rules
FEEDBACK_BATCH = 200  # labels applied per published model version, at most
FEEDBACK_WITHIN = 1.0  # seconds a batch of labels waits to fill


async def model_ready(follower: ModelFollower) -> None:
    """Wait until the worker caught up with the model topic (bounded: rules until then)."""
    if not follower.ready.is_set():
        try:
            await asyncio.wait_for(follower.ready.wait(), READY_TIMEOUT)
        except TimeoutError:
            log.warning("spam_model not_ready_after=%ss: scoring with the model at hand", READY_TIMEOUT)
            follower.ready.set()


def register_feedback(
    app: faust.App,
    settings: Settings,
    spam: SpamStage,
    follower: ModelFollower,
    metrics: Metrics,
    topic: Callable[..., Any],
    queue_name: str,
) -> None:
    """Agents that read the feedback topic and publish model versions (see the module doc)."""
    queue = topic(queue_name, internal=True, partitions=1)  # one applier in the whole group
    model_topic = topic(settings.topics.model)
    labels_applied = Counter(
        "streamproc_feedback_labels",
        "Moderator labels applied to the spam model by this worker",
        ["label"],
        registry=metrics.registry,
    )
    metrics.init_stage("feedback")

    async def forward(stream: faust.StreamT) -> None:
        async for event in stream.events():
            await queue.send(key=MODEL_KEY, value=event.value)

    async def apply(stream: faust.StreamT) -> None:
        async for values in stream.take(FEEDBACK_BATCH, within=FEEDBACK_WITHIN):
            metrics.consumed.labels("feedback").inc(len(values))
            examples, keys = [], []
            for value in values:
                try:
                    key, features, label = feedback_example(value)
                    examples.append((features, label))
                    keys.append(key)
                except DecodeError as exc:
                    metrics.dead_letters.labels("feedback", exc.reason).inc()
                    log.warning("feedback_skipped reason=%s", exc.reason)
            if not examples:
                continue
            await model_ready(follower)
            # Copy-on-write: scoring keeps using the published model until the new one is sent.
            current = spam.model
            model = LinearModel(
                current.version, current.bias, dict(current.weights), current.bits, dict(current.meta)
            )
            applied = model.update(examples, keys)
            if not applied:
                continue  # all of them were applied before (re-delivery)
            data = encode_model(model)
            # Wait for the broker's ack: the labels' offsets must not be committed before the
            # model that contains them is durable.
            sent = await model_topic.send(key=MODEL_KEY, value=data)
            await sent
            # Score with exactly what was published (rounded, pruned), like every other worker.
            spam.model = LinearModel.from_bytes(data)
            metrics.model_version.set(model.version)
            for _, label in examples:
                labels_applied.labels("spam" if label else "ham").inc()
            log.info("spam_model_updated version=%s labels=%s", model.version, applied)

    app.agent(topic(settings.topics.feedback), name="spam-feedback", concurrency=1)(forward)
    app.agent(queue, name="spam-feedback-apply", concurrency=1)(apply)
