"""create_app(settings) -> faust.App with the topics, tables and the enabled stages wired."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import faust
from aiokafka.admin import NewTopic

from streamproc import __version__
from streamproc.clients import ssl_context
from streamproc.config import Settings, Topics
from streamproc.metrics import Metrics
from streamproc.pipeline import StageLogic
from streamproc.recovery import SeekFirstTableManager
from streamproc.stages import decide, duplicates, links, spam
from streamproc.stages.common import StageContext, raw_topic

LAG_INTERVAL_SECONDS = 5.0


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


def internal_topics(app: faust.App, settings: Settings) -> list[NewTopic]:
    """The internal (re-keying) topics the app's agents read, to create before Faust starts:
    a consumer that subscribes before its topic exists waits for a metadata refresh."""
    topics = []
    for agent in app.agents.values():
        channel = agent.channel
        if getattr(channel, "internal", False):
            partitions = channel.partitions or settings.partitions
            topics += [NewTopic(name, partitions, settings.replication) for name in channel.topics]
    return topics


def create_app(settings: Settings, metrics: Metrics) -> faust.App:
    """Build the Faust app for the stages in `settings.stages`."""
    app = faust.App(
        settings.group_id,
        broker=settings.broker_urls,
        broker_credentials=_credentials(settings),
        store=settings.store,
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        autodiscover=False,
        producer_linger_ms=5,  # small batches: throughput without noticeable latency
        # Notice topics created after start (by another worker) in seconds, not 5 minutes.
        consumer_metadata_max_age_ms=10_000,
        # Every comment must get a verdict: at-least-once, never exactly_once (see design notes).
        processing_guarantee="at_least_once",
        # Stream partitions resumed after the seek to their committed offsets (streamproc/recovery.py):
        # Faust resumes them first, and records fetched meanwhile can be lost at a takeover.
        TableManager=SeekFirstTableManager,
    )
    topics = {f.name: raw_topic(app, getattr(settings.topics, f.name)) for f in fields(Topics)}
    ctx = StageContext(app, settings, topics, metrics, StageLogic(settings))
    registrars = {"links": links, "duplicates": duplicates, "spam": spam, "decide": decide}
    for stage in settings.stages:
        registrars[stage].register(ctx)
    metrics.info.info({"version": __version__, "stages": ",".join(settings.stages)})

    @app.timer(LAG_INTERVAL_SECONDS)
    async def record_lag() -> None:
        consumer = app.consumer
        lag: dict[tuple[str, int], int] = {}
        for tp in consumer.assignment():
            position = await consumer.position(tp)
            highwater = consumer.highwater(tp)
            if position is not None and highwater is not None:
                lag[(tp.topic, tp.partition)] = max(0, highwater - position)
        metrics.set_lag(lag)

    return app
