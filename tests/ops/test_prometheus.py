"""A real Prometheus scrapes a real worker on Apache Kafka while comments flow; then every PromQL
expression of the dashboard and of the alert rules is evaluated through Prometheus's HTTP API and
must return series with the labels its legend or annotations show. The worker's /metrics passes
`promtool check metrics`, the rules load and evaluate without errors, and the dashboard renders.

Prometheus runs from deploy/prometheus/prometheus.yml with only what a test must change: 1 s
scrapes and evaluations, the worker as a static target instead of compose DNS, and alerts.yml by
absolute path. A healthy worker has no stage errors, so streamproc_errors_total would have no
series at all; a second target serves a `streamproc.metrics.Metrics` registry (the same metric
definitions) holding one recorded error, and only that metric is kept from it, so that the error
expressions are checked against real label names too. It starts after the comments stopped, so
the rendered picture of the run (up to `Live.end`) shows only the worker's data.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math
import os
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import start_http_server

from streamproc.broker.kafka import KafkaBroker
from streamproc.broker.process import free_port
from streamproc.gen.demo import generate, interleave
from streamproc.metrics import Metrics
from tests.ops.support import (
    GRAFANA_DIR,
    Query,
    alert_queries,
    alert_rules,
    assert_promtool_accepts,
    dashboard_queries,
    operands,
)
from tests.support.prometheus import WORKER_JOB, query, running_prometheus, wait_until, worker_config
from tests.support.workers import WorkerProcess, consume, prefixed_topics, run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

APP_ID = "t-ops-prometheus"
# Comments flow for this long (longer makes a nicer docs/dashboard.png, shorter a faster test).
FLOW_SECONDS = float(os.environ.get("STREAMPROC_OPS_FLOW_SECONDS", "20"))
COMMENTS_PER_SECOND = 20
RATE_INTERVAL = "30s"  # $__rate_interval: 30 scrapes at 1 s


@dataclass
class Live:
    url: str
    worker: WorkerProcess
    start: float
    end: float  # the last verdict is in Prometheus
    checked: float  # the error sample is in Prometheus too: when the queries are evaluated
    comments: int


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


async def flow(bootstrap: str, topic: str, values: list[bytes | dict[str, Any]], seconds: float) -> None:
    """Send the events evenly over `seconds`, each posted "now", the malformed ones as they are."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        t0 = time.monotonic()
        for i, value in enumerate(values):
            delay = t0 + seconds * i / len(values) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if isinstance(value, dict):
                posted = datetime.now(UTC).isoformat().replace("+00:00", "Z")
                event = {**value, "posted_at": posted}
                await producer.send(topic, orjson.dumps(event), key=event["id"].encode())
            else:
                await producer.send(topic, value)
        await producer.flush()
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
def live(kafka: KafkaBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    workdir = tmp_path_factory.mktemp("ops")
    topics = prefixed_topics(APP_ID)
    worker = WorkerProcess(kafka.bootstrap, APP_ID, workdir, topics=topics, partitions=2, name="worker")
    sample = Metrics()
    sample.errors.labels("decide", "KeyError").inc()
    sample_port = free_port()
    # The error sample: only streamproc_errors_total is kept from it (see the module doc).
    errors_only = {
        "job_name": "streamproc-errors-sample",
        "static_configs": [{"targets": [f"127.0.0.1:{sample_port}"], "labels": {"service": "sample"}}],
        "metric_relabel_configs": [
            {"source_labels": ["__name__"], "regex": "streamproc_errors_total", "action": "keep"}
        ],
    }
    with ExitStack() as stack:
        stack.callback(worker.stop)
        worker.start()
        config = worker_config({"all-stages": worker.metrics_port}, [errors_only])
        url, log = stack.enter_context(running_prometheus(config, workdir / "prometheus"))
        wait_until(
            "the worker scraped (up == 1)",
            lambda: (
                [
                    s["value"][1]
                    for s in query(url, f'up{{job="{WORKER_JOB}"}}', time.time())["data"]["result"]
                ]
                == ["1"]
            ),
            30,
            log,
        )

        stream = generate(int(FLOW_SECONDS * COMMENTS_PER_SECOND), seed=23)
        start = time.time()
        run(flow(kafka.bootstrap, topics.comments, list(interleave(stream)), FLOW_SECONDS))
        verdicts = run(consume(kafka.bootstrap, topics.verdicts, expected=len(stream.events), timeout=90))
        worker.assert_alive()
        assert len(verdicts) >= len(stream.events), f"{len(verdicts)} verdicts\n{worker.log()}"
        wait_until(
            "Prometheus has every action",
            lambda: (
                [
                    float(s["value"][1]) >= len(stream.events)
                    for s in query(url, "sum(streamproc_actions_total)", time.time())["data"]["result"]
                ]
                == [True]
            ),
            20,
            log,
        )
        end = time.time()
        sample_server, _thread = start_http_server(sample_port, "127.0.0.1", sample.registry)
        stack.callback(sample_server.shutdown)
        wait_until(
            "the error sample scraped twice (rate needs two samples)",
            lambda: query(url, "rate(streamproc_errors_total[30s])", time.time())["data"]["result"],
            20,
            log,
        )
        yield Live(url, worker, start, end, time.time(), len(stream.events))


def _label_problems(q: Query, expr: str, response: dict[str, Any], labels: frozenset[str]) -> list[str]:
    if response.get("status") != "success":
        return [f"{q.where}: {expr}: {response.get('error')}"]
    series = response["data"]["result"]
    if not series:
        return [f"{q.where}: {expr}: no series"]
    problems = []
    for s in series:
        missing = labels - set(s["metric"])
        if missing:
            problems.append(f"{q.where}: {expr}: series {s['metric']} lacks {sorted(missing)}")
    if not any(math.isfinite(float(s["value"][1])) for s in series):
        problems.append(f"{q.where}: {expr}: no finite value in {series}")
    return problems


def test_dashboard_queries_return_labelled_series(live: Live) -> None:
    queries = dashboard_queries()
    assert len(queries) >= 15
    problems = []
    for q in queries:
        expr = q.expr.replace("$__rate_interval", RATE_INTERVAL)
        assert "$" not in expr, f"{q.where}: unknown dashboard variable in {q.expr}"
        problems += _label_problems(q, expr, query(live.url, expr, live.checked), q.labels)
    assert not problems, "\n".join(problems)


def test_alert_queries_parse_and_their_operands_return_labelled_series(live: Live) -> None:
    problems = []
    for q in alert_queries():
        response = query(live.url, q.expr, live.checked)  # the condition itself: may rightly be empty
        if response.get("status") != "success":
            problems.append(f"{q.where}: {response.get('error')}")
            continue
        parts = operands(q.expr)
        assert parts, q.expr
        # The left operand decides the alert's labels; the others must have data.
        problems += _label_problems(q, parts[0], query(live.url, parts[0], live.checked), q.labels)
        for part in parts[1:]:
            problems += _label_problems(q, part, query(live.url, part, live.checked), frozenset())
    assert not problems, "\n".join(problems)


def test_rules_load_and_evaluate_without_errors(live: Live) -> None:
    groups = _get(f"{live.url}/api/v1/rules")["data"]["groups"]
    loaded = {rule["name"]: rule for group in groups for rule in group["rules"]}
    assert set(loaded) == {rule["alert"] for rule in alert_rules()}
    for name, rule in loaded.items():
        assert rule["health"] == "ok", (name, rule.get("lastError"))
    # A healthy pipeline: the worker is up and verdicts keep coming.
    assert loaded["StreamprocWorkerDown"]["state"] == "inactive"
    assert loaded["StreamprocNoVerdicts"]["state"] == "inactive"


def test_worker_metrics_pass_promtool_check_metrics(live: Live) -> None:
    text = live.worker.metrics_text()
    assert_promtool_accepts(text)
    for family in (
        "streamproc_comments_consumed_total",
        "streamproc_verdicts_total",
        "streamproc_actions_total",
        "streamproc_dead_letters_total",
        "streamproc_stage_duration_seconds",
        "streamproc_end_to_end_seconds",
        "streamproc_duplicate_index_comments",
        "streamproc_model_version",
        "streamproc_consumer_lag",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
    ):
        assert f"# TYPE {family} " in text, family


def _renderer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_dashboard", GRAFANA_DIR / "render_dashboard.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_dashboard_renders_from_prometheus(live: Live, tmp_path: Path) -> None:
    """STREAMPROC_DASHBOARD_PNG=docs/dashboard.png keeps the picture (that is how it is made)."""
    out = Path(os.environ.get("STREAMPROC_DASHBOARD_PNG") or tmp_path / "dashboard.png")
    drawn = _renderer().render(live.url, live.start - 5, live.end, out, rate_interval=RATE_INTERVAL, step=1)
    assert drawn >= len(dashboard_queries())
    assert out.stat().st_size > 50_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
