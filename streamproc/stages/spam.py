"""The spam stage: verdicts.duplicates -> (re-keyed by author) -> verdicts.spam, plus the model.

- Posting rate needs each author's recent comments: a Faust table keyed by author, reached by a
  re-key hop, so the state is partitioned and recovered from its changelog.
- The model is shared state on the compacted model topic: every worker follows it (ModelFollower)
  and scores with the newest version, which each verdict names.
- Moderator feedback is funnelled into a one-partition internal topic, so exactly one worker (the
  owner of that partition) applies labels and publishes new versions; all others follow.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
import orjson
from faust.types import EventT
from prometheus_client import Counter

from streamproc.clients import MODEL_KEY, ModelFollower, encode_model
from streamproc.detect.features import Feature, stale_authors
from streamproc.detect.model import LinearModel
from streamproc.detect.spam import spam_input
from streamproc.errors import DecodeError
from streamproc.events import Envelope, comment_from_dict
from streamproc.pipeline import StageLogic
from streamproc.stages.common import StageContext, Sweeper, publish, raw_topic, stage_agent

log = logging.getLogger("streamproc.stages.spam")

READY_TIMEOUT = 30.0  # seconds to wait for the model topic at start before scoring with rules
FEEDBACK_BATCH = 200  # labels applied per published model version, at most
FEEDBACK_WITHIN = 1.0  # seconds a batch of labels waits to fill
SWEEP_EVERY = 1000  # scored comments between sweeps of authors unseen for AUTHOR_TTL


def feedback_example(logic: StageLogic, value: bytes) -> tuple[str, list[Feature], int]:
    """Model features and label of one feedback event (`comment_id`, `label`, `moderator`, `at`,
    optional `text` and the rest of the comment, flat or under `comment`)."""
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("invalid_json", f"feedback is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise DecodeError("not_object", "feedback must be a JSON object")
    label = obj.get("label")
    if label not in ("spam", "ham"):
        raise DecodeError("bad_label", f"feedback label must be spam or ham, got {str(label)[:20]!r}")
    inner = obj.get("comment") if isinstance(obj.get("comment"), dict) else {}
    event = {**obj, **inner}
    text = event.get("text")
    if not isinstance(text, str) or not text.strip():
        raise DecodeError("no_text", "feedback without the comment text cannot teach the model")
    event.setdefault("id", str(obj.get("comment_id") or "feedback"))
    event.setdefault("thread_id", "feedback")
    event.setdefault("posted_at", obj.get("at") or "1970-01-01T00:00:00Z")
    comment = comment_from_dict(event)
    env = Envelope(comment, {}, 0.0)
    env.stages["links"] = logic.links(env)
    key = f"{comment.id}:{label}:{obj.get('moderator', '')}"
    return key, spam_input(comment, env.stages, None).features, 1 if label == "spam" else 0


def register(ctx: StageContext) -> list[Any]:
    s, logic = ctx.settings, ctx.logic
    by_author = raw_topic(ctx.app, f"{s.app_id}-spam-by-author", internal=True, partitions=s.partitions)
    authors = ctx.app.Table("spam-authors", default=list, key_type=str, partitions=s.partitions)
    feedback_queue = raw_topic(ctx.app, f"{s.app_id}-spam-feedback", internal=True, partitions=1)

    # Ops can see that every worker runs the same model, and how much feedback arrives.
    model_version = ctx.metrics.model_version
    labels_applied = Counter(
        "streamproc_feedback_labels",
        "Moderator labels applied to the spam model by this worker",
        ["label"],
        registry=ctx.metrics.registry,
    )
    model_version.set(logic.spam_model.version)

    def on_model(model: LinearModel) -> None:
        # Ties go to the later record, as compaction keeps the later one.
        if model.version >= logic.spam_model.version:
            if model.version > logic.spam_model.version:
                log.info("spam_model version=%s weights=%s", model.version, len(model.weights))
            logic.spam_model = model
            model_version.set(model.version)

    follower = ModelFollower(s, on_model)

    async def model_ready() -> None:
        if not follower.ready.is_set():
            try:
                await asyncio.wait_for(follower.ready.wait(), READY_TIMEOUT)
            except TimeoutError:
                log.warning("spam_model not_ready_after=%ss: scoring with the model at hand", READY_TIMEOUT)
                follower.ready.set()

    @ctx.app.task
    async def follow_model() -> None:
        await follower.run()

    async def rekey(env: Envelope, event: EventT) -> None:
        await by_author.send(key=logic.spam_key(env).encode(), value=event.value)

    sweeper = Sweeper(authors, s.partitions, stale_authors, SWEEP_EVERY)

    async def score(env: Envelope, event: EventT) -> None:
        await model_ready()
        await publish(ctx, "spam", env, logic.spam(env, authors))
        sweeper.after(event, env.comment.posted_at)

    async def forward_feedback(stream: faust.StreamT) -> None:
        async for event in stream.events():
            await feedback_queue.send(key=MODEL_KEY, value=event.value)

    async def apply_feedback(stream: faust.StreamT) -> None:
        async for values in stream.take(FEEDBACK_BATCH, within=FEEDBACK_WITHIN):
            examples, keys = [], []
            for value in values:
                try:
                    key, features, label = feedback_example(logic, value)
                    examples.append((features, label))
                    keys.append(key)
                except DecodeError as exc:
                    ctx.metrics.dead_letters.labels("feedback", exc.reason).inc()
                    log.warning("feedback_skipped reason=%s", exc.reason)
            if not examples:
                continue
            await model_ready()
            # Copy-on-write: scoring keeps using the published model until the new one is sent.
            current = logic.spam_model
            model = LinearModel(
                current.version, current.bias, dict(current.weights), current.bits, dict(current.meta)
            )
            applied = model.update(examples, keys)
            if not applied:
                continue  # all of them were applied before (re-delivery)
            data = encode_model(model)
            # Wait for the broker's ack: the labels' offsets must not be committed before the
            # model that contains them is durable.
            sent = await ctx.topics["model"].send(key=MODEL_KEY, value=data)
            await sent
            # Score with exactly what was published (rounded, pruned), like every other worker.
            logic.spam_model = LinearModel.from_bytes(data)
            model_version.set(model.version)
            for _, label in examples:
                labels_applied.labels("spam" if label else "ham").inc()
            log.info("spam_model_updated version=%s labels=%s", model.version, applied)

    return [
        stage_agent(ctx, "spam", ctx.topics["duplicates"], rekey),
        stage_agent(ctx, "spam-authors", by_author, score),
        ctx.app.agent(ctx.topics["feedback"], name="spam-feedback", concurrency=1)(forward_feedback),
        ctx.app.agent(feedback_queue, name="spam-feedback-apply", concurrency=1)(apply_feedback),
    ]
