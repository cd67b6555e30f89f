"""The worker image, run: `streamproc worker` in a container on the host network against the
session's Apache Kafka on the host; the audit (`streamproc audit --grace 0`) runs from the image."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from prometheus_client.parser import text_string_to_metric_families

from streamproc.broker.kafka import KafkaBroker
from streamproc.broker.process import free_port
from streamproc.clients import ensure_topics
from streamproc.config import Settings, Topics, load_settings
from tests.containers.conftest import Audit, Container, http_get
from tests.containers.engine import Engine
from tests.containers.images import ProjectImage
from tests.support.faults import mixed_stream, verdict_history
from tests.support.workers import prefixed_topics, produce, run, topics_env

pytestmark = [pytest.mark.containers]

WORKER_UID = "10001"  # the Dockerfile's streamproc user
SHUTDOWN_SECONDS = 15  # STREAMPROC_SHUTDOWN_SECONDS given to the workers here
STOP_GRACE = 45  # docker stop -t: past the worker's own bound, so an overrun shows as SIGKILL (137)
HEALTHY_WITHIN = 60  # the image checks every 15 s; the first check passes once /healthz answers
DATA = "/home/streamproc/data"  # STREAMPROC_DATA_DIR in the image


def setup_topics(kafka: KafkaBroker, app_id: str) -> tuple[Settings, dict[str, str]]:
    """The test's own topics, created; and the environment that points a container at them."""
    topics: Topics = prefixed_topics(app_id)
    settings = load_settings({}, brokers=kafka.bootstrap, app_id=app_id, partitions=2, topics=topics)
    asyncio.run(ensure_topics(settings))
    env = {"STREAMPROC_BROKERS": kafka.bootstrap, "STREAMPROC_APP_ID": app_id, **topics_env(topics)}
    return settings, env


def start_worker(
    run_container: Callable[..., Container], image: str, env: dict[str, str], **kw: Any
) -> tuple[Container, int]:
    port = free_port()
    worker_env = {
        **env,
        "STREAMPROC_PARTITIONS": "2",
        "STREAMPROC_METRICS_PORT": str(port),
        "STREAMPROC_METRICS_HOST": "127.0.0.1",
        "STREAMPROC_SHUTDOWN_SECONDS": str(SHUTDOWN_SECONDS),
    }
    return run_container(image, "worker", "--loglevel", "info", env=worker_env, **kw), port


def metric_sum(text: str, name: str) -> float:
    return sum(
        s.value for family in text_string_to_metric_families(text) for s in family.samples if s.name == name
    )


def test_the_worker_container_judges_comments_unprivileged_healthy_and_scraped(
    kafka: KafkaBroker,
    unique_name: str,
    engine: Engine,
    project_image: ProjectImage,
    run_container: Callable[..., Container],
) -> None:
    settings, env = setup_topics(kafka, unique_name)
    worker, port = start_worker(run_container, project_image.tag, env)
    run(produce(kafka.bootstrap, settings.topics.comments, mixed_stream(200, 4, seed=11, prefix="img-")))

    report = Audit(engine, project_image.tag, env).until_complete(timeout=180)
    assert (report["records"], report["judged"], report["dead_lettered"]) == (204, 200, 4), report

    # The worker process itself, seen from the host, runs as the image's user (no user namespaces).
    status = Path(f"/proc/{worker.state()['Pid']}/status").read_text()
    uids = re.search(r"^Uid:\s+(.*)$", status, re.M)
    assert uids and set(uids.group(1).split()) == {WORKER_UID}, status

    code, text = http_get(f"http://127.0.0.1:{port}/metrics")
    assert code == 200
    assert metric_sum(text, "streamproc_actions_total") == report["judged"] + report["extra_verdicts"]
    assert metric_sum(text, "streamproc_dead_letters_total") == 4

    health = worker.wait_healthy(HEALTHY_WITHIN)
    assert health["Log"] and health["Log"][-1]["ExitCode"] == 0
    code, body = http_get(f"http://127.0.0.1:{port}/healthz")
    assert code == 200 and orjson.loads(body)["status"] == "running"


async def empty_changelogs(bootstrap: str, app_id: str) -> int:
    """Delete every record of the group's changelog topics; returns how many there were. Kafka
    deletes records only where deletion is a cleanup policy, so the (compacted) changelogs get
    `compact,delete` first."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        names = [
            t for t in await admin.list_topics() if t.startswith(f"{app_id}-") and t.endswith("-changelog")
        ]
        described = await admin.describe_topics(names)
        parts = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
        ends = await consumer.end_offsets(parts)
        policy = {"cleanup.policy": "compact,delete"}
        responses = await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t, policy) for t in names]
        )
        errors = [r for response in responses for r in response.resources if r[0] != 0]
        assert not errors, errors
        nonempty = {tp: RecordsToDelete(before_offset=end) for tp, end in ends.items() if end > 0}
        if nonempty:
            await admin.delete_records(nonempty)
        return sum(ends.values())
    finally:
        await consumer.stop()
        await admin.close()


def test_docker_stop_commits_and_a_new_container_on_the_volume_keeps_the_state(
    kafka: KafkaBroker,
    unique_name: str,
    engine: Engine,
    project_image: ProjectImage,
    run_container: Callable[..., Container],
    volume: str,
) -> None:
    settings, env = setup_topics(kafka, unique_name)
    audit = Audit(engine, project_image.tag, env)
    mounts = [f"{volume}:{DATA}"]
    first, _ = start_worker(run_container, project_image.tag, env, volumes=mounts)
    events = [orjson.loads(e) for e in mixed_stream(150, 0, seed=21, prefix="vol-")]
    run(produce(kafka.bootstrap, settings.topics.comments, events))
    audit.until_complete(timeout=180)
    history, _ = verdict_history(settings)
    firsts = {cid: msgs[0]["stages"]["duplicates"]["label"] for cid, msgs in history.items()}
    # comments that were new to the duplicates stage: a repeat of one is a duplicate only if the
    # stage still remembers it
    originals = [e for e in events if firsts.get(e["id"]) == "unique"][:20]
    assert len(originals) == 20, firsts

    code, took = first.stop(STOP_GRACE)
    assert code == 0, f"exit {code} after docker stop (137: killed after the grace period)\n{first.logs()}"
    assert took < SHUTDOWN_SECONDS + 5, f"docker stop took {took:.1f} s"

    # The table state is on the volume, written by the worker's user.
    mountpoint = Path(engine.docker("volume", "inspect", "-f", "{{.Mountpoint}}", volume).stdout.strip())
    files = [p for p in mountpoint.rglob("*") if p.is_file()]
    assert files, "nothing on the data volume"
    assert {str(p.stat().st_uid) for p in files} == {WORKER_UID}
    # Empty the changelog topics: what the next container remembers can only come from the volume.
    assert asyncio.run(empty_changelogs(kafka.bootstrap, unique_name)) > 0

    start_worker(run_container, project_image.tag, env, volumes=mounts)
    reposts = [{**e, "id": f"again-{e['id']}"} for e in originals]
    run(produce(kafka.bootstrap, settings.topics.comments, reposts))
    report = audit.until_complete(timeout=180)

    # Offsets were committed at the stop: the new container judged only the new comments.
    assert report["judged_more_than_once"] == 0 and report["extra_verdicts"] == 0, report
    history, _ = verdict_history(settings)
    assert len(history) == len(events) + len(reposts)
    assert all(len(msgs) == 1 for msgs in history.values())
    labels = {e["id"]: history[e["id"]][0]["stages"]["duplicates"]["label"] for e in reposts}
    assert set(labels.values()) == {"duplicate"}, labels
