"""docker-compose.yml through a real Compose (Debian's 1.29): it accepts the file, and runs the
project's own services from it (the stage-group workers scaled to 2, and the demo producer)
against the session's Apache Kafka on the host, while Debian's Prometheus scrapes the workers with
deploy/prometheus/prometheus.yml's streamproc job."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from streamproc.broker.kafka import KafkaBroker
from streamproc.broker.process import free_port, stop_process, tail
from streamproc.clients import ensure_topics
from streamproc.config import Topics, load_settings
from tests.containers.conftest import Audit, http_get
from tests.containers.engine import Engine
from tests.containers.images import ProjectImage
from tests.ops.support import PROMETHEUS_DIR, REPO, tool
from tests.support.workers import consume, prefixed_topics, run, topics_env

pytestmark = [pytest.mark.containers]

OVERRIDE = Path(__file__).with_name("compose.override.yml")
FILES = ["-f", str(REPO / "docker-compose.yml"), "-f", str(OVERRIDE)]
WORKERS = {"links-duplicates": 2, "spam-decide": 2}  # service -> replicas (--scale)
PARTITIONS = 4  # STREAMPROC_PARTITIONS in docker-compose.yml, as its topics service creates them
AUDIT_SECONDS = 120  # after the producer stops; a watchdog restart (30 s here, +20 s) fits in it
STARTED = re.compile(r"worker stages=\S+ .*metrics=http://127\.0\.0\.1:(\d+)/metrics")


def test_debian_compose_accepts_the_compose_file(engine: Engine) -> None:
    done = engine.compose("-f", str(REPO / "docker-compose.yml"), "config", "--quiet", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    services = engine.compose("-f", str(REPO / "docker-compose.yml"), "config", "--services").stdout.split()
    assert {"kafka", "topics", *WORKERS, "producer", "kafka-exporter", "prometheus", "grafana"} <= set(
        services
    )


def test_the_override_names_every_topic_as_the_tests_do() -> None:
    """The override's topic names are the prefixed ones the test reads (and no topic is left on
    its default name, which other tests on the same broker might use)."""
    env = yaml.safe_load(OVERRIDE.read_text())["x-test-env"]
    expected = prefixed_topics("${STREAMPROC_TEST_APP_ID}")
    for f in fields(Topics):
        assert env[f"STREAMPROC_TOPIC_{f.name.upper()}"] == getattr(expected, f.name), f.name


def prometheus_config(targets_file: Path, own_port: int) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with what only host networking changes: the workers are
    found in a file the test keeps current instead of by compose DNS (each target carries the DNS
    name the stack's relabel rule turns into `service`), no exporter (its image cannot run here),
    1 s scrapes."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(PROMETHEUS_DIR / name) for name in config["rule_files"]]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    workers = copy.deepcopy(jobs["streamproc"])
    assert {n for sd in workers.pop("dns_sd_configs") for n in sd["names"]} == set(WORKERS)
    workers["file_sd_configs"] = [{"files": [str(targets_file)], "refresh_interval": "1s"}]
    itself = copy.deepcopy(jobs["prometheus"])
    itself["static_configs"] = [{"targets": [f"127.0.0.1:{own_port}"]}]
    config["scrape_configs"] = [workers, itself]
    return dict(config)


def write_targets(path: Path, ports: dict[str, list[int]]) -> None:
    """The replicas' current metrics ports as Prometheus file discovery targets (atomically)."""
    groups = [
        {"targets": [f"127.0.0.1:{port}" for port in found], "labels": {"__meta_dns_name": service}}
        for service, found in ports.items()
    ]
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(groups))
    partial.rename(path)


def query(url: str, expr: str) -> list[dict[str, Any]]:
    code, body = http_get(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
    assert code == 200, body
    return list(json.loads(body)["data"]["result"])


def wait(what: str, check: Any, timeout: float, detail: Any) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except OSError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s\n{detail()}")
        time.sleep(1)


class Stack:
    """The compose project of one test: its containers, their logs, and `down` at the end."""

    def __init__(self, engine: Engine, project: str, env: dict[str, str]) -> None:
        self.engine, self.project, self.env = engine, project, env

    def compose(
        self, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return self.engine.compose(
            "-p", self.project, *FILES, *args, env=self.env, check=check, timeout=timeout
        )

    def containers(self, service: str) -> list[dict[str, Any]]:
        ids = self.compose("ps", "-q", service).stdout.split()
        return [json.loads(self.engine.docker("inspect", i).stdout)[0] for i in ids]

    def logs(self, tail: str = "40") -> str:
        done = self.compose("logs", "--no-color", "--tail", tail, check=False)
        return done.stdout + done.stderr

    def metrics_ports(self) -> dict[str, list[int]]:
        """Each worker service's replicas' metrics ports, once all have printed their start line."""
        found: dict[str, list[int]] = {}
        for service, replicas in WORKERS.items():
            ports = []
            for c in self.containers(service):
                log = self.engine.docker("logs", c["Id"], check=False)
                # the last start line: a watchdog restart (in place) binds a new free port
                lines = STARTED.findall(log.stdout + log.stderr)
                if lines:
                    ports.append(int(lines[-1]))
            if len(ports) != replicas:
                return {}
            found[service] = ports
        return found


@pytest.fixture
def stack(
    engine: Engine, project_image: ProjectImage, kafka: KafkaBroker, unique_name: str, tmp_path: Path
) -> Iterator[Stack]:
    project = re.sub(r"[^a-z0-9]", "", unique_name)[-30:]
    env = {"STREAMPROC_TEST_BROKERS": kafka.bootstrap, "STREAMPROC_TEST_APP_ID": unique_name}
    s = Stack(engine, project, env)
    try:
        yield s
    finally:
        (tmp_path / "compose.log").write_text(s.logs("all"))
        print(f"compose logs: {tmp_path / 'compose.log'}\n{s.logs()[-15000:]}")  # shown if the test failed
        s.compose("down", "--volumes", "--timeout", "45", check=False)


def test_compose_runs_the_scaled_workers_and_the_demo_producer_scraped_by_prometheus(
    stack: Stack,
    engine: Engine,
    project_image: ProjectImage,
    kafka: KafkaBroker,
    unique_name: str,
    tmp_path: Path,
) -> None:
    topics = prefixed_topics(unique_name)
    # what the stack's `topics` service does: the published topics with the stack's partitions
    settings = load_settings({}, brokers=kafka.bootstrap, partitions=PARTITIONS, topics=topics)
    asyncio.run(ensure_topics(settings))

    scale = [arg for service, n in WORKERS.items() for arg in ("--scale", f"{service}={n}")]
    stack.compose("up", "--detach", "--no-deps", "--no-build", *scale, *WORKERS, "producer")
    ports = wait("every worker replica started", stack.metrics_ports, 120, lambda: stack.logs()[-15000:])

    url = f"http://127.0.0.1:{free_port()}"
    targets = tmp_path / "workers.json"
    write_targets(targets, ports)
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(targets, int(url.rsplit(":", 1)[1]))))
    log = tmp_path / "prometheus.log"
    with log.open("wb") as out:
        prometheus = subprocess.Popen(
            [tool("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address={url.removeprefix('http://')}"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        # Verdicts from both groups: links-duplicates publishes verdicts.duplicates, spam-decide the
        # final verdicts; wait for two producer batches to go all the way through.
        wait(
            "verdicts from both stage groups",
            lambda: all(
                len(run(consume(kafka.bootstrap, topic, expected=200, timeout=5))) >= 200
                for topic in (topics.duplicates, topics.verdicts)
            ),
            180,
            lambda: stack.logs()[-15000:],
        )
        stack.compose("stop", "producer")
        audit_env = {
            "STREAMPROC_BROKERS": kafka.bootstrap,
            "STREAMPROC_APP_ID": unique_name,
            **topics_env(topics),
        }
        _, report = Audit(engine, project_image.tag, audit_env).wait(AUDIT_SECONDS)
        # every other producer round sends a malformed event: it must be dead-lettered
        assert report["records"] >= 200 and report["dead_lettered"] >= 1, report

        # Prometheus scrapes every replica where it serves now, labelled by service as in the
        # stack, and both services' workers count the comments they consumed.
        def scraped() -> bool:
            ports = stack.metrics_ports()
            if ports:
                write_targets(targets, ports)
            up = query(url, 'up{job="streamproc"}')
            serving = {f"127.0.0.1:{p}" for found in ports.values() for p in found}
            consumed = query(url, 'sum by (service) (streamproc_comments_consumed_total{job="streamproc"})')
            return (
                {r["metric"]["instance"] for r in up} == serving
                and all(r["value"][1] == "1" for r in up)
                and sorted(r["metric"]["service"] for r in up)
                == sorted(s for s, n in WORKERS.items() for _ in range(n))
                and {r["metric"]["service"] for r in consumed if float(r["value"][1]) > 0} == set(WORKERS)
            )

        wait("every replica scraped, by service", scraped, 60, lambda: tail(log, 20))
        finals = query(url, "sum(streamproc_actions_total)")
        assert finals and float(finals[0]["value"][1]) > 0
    finally:
        stop_process(prometheus)

    logs = stack.logs("all")
    restarts, resent = logs.count("worker_restart reason="), logs.count("state_requests_resent")
    print(f"watchdog restarts (in place): {restarts}; rounds of state requests sent again: {resent}")

    # `docker compose stop`: every worker commits and exits 0 within the file's stop_grace_period
    # (137 would be a SIGKILL after it), and none was restarted by the restart policy meanwhile.
    stack.compose("stop", *WORKERS, timeout=120)
    for service in WORKERS:
        for c in stack.containers(service):
            state = json.loads(engine.docker("inspect", c["Id"]).stdout)[0]
            assert state["State"]["ExitCode"] == 0 and state["RestartCount"] == 0, (c["Name"], state["State"])

    # Two replicas per group started together while comments flow: every comment accounted for
    # (this lost comments before the head took its partitions strictly in order; stream.py).
    where = ", ".join(
        f"{m['comment_id']} p{m['partition']}@{m['offset']}" for m in report["missing_comments"][:5]
    )
    assert not report["missing"], (
        f"{report['missing']} of {report['records']} comments without a verdict {AUDIT_SECONDS} s after "
        f"the producer stopped ({where}; {resent} state requests sent again, {restarts} watchdog restarts)"
    )
