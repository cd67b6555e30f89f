"""Logs and metrics carry no comment text, author names, e-mails or IPs: after a worker judged
comments full of them (valid, malformed and poisoned ones, so that every log path runs), its log
and its /metrics are searched for each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from streamproc.clients import ensure_topics
from streamproc.config import load_settings
from tests.support.faults import audit_until_complete
from tests.support.workers import WorkerProcess, prefixed_topics, produce, run

pytestmark = [pytest.mark.e2e]

SECRETS = {
    "text": "Quirinal-marmalade-7731",
    "author": "Philippa Quagmire-Oddsworth",
    "email": "philippa.q@mailbox-example.org",
    "ip": "203.0.113.77",
    "email_hash": "5f4dcc3b5aa765d61d8327deb882cf99",
}


def _events() -> list[bytes | dict[str, Any]]:
    author = {
        "id": "u-priv",
        "name": SECRETS["author"],
        "email_hash": SECRETS["email_hash"],
        "ip": SECRETS["ip"],
    }
    text = f"{SECRETS['text']} write to {SECRETS['email']} or see http://{SECRETS['ip']}/x"
    out: list[bytes | dict[str, Any]] = []
    for i in range(30):
        out.append(
            {
                "id": f"p-{i}",
                "thread_id": "t",
                "text": text,
                "posted_at": "2026-11-30T10:00:00Z",
                "author": author,
            }
        )
    poisoned = {"id": "p-poison", "thread_id": "t", "text": f"{text} POISON-LINKS", "posted_at": "2026-11-30T10:00:00Z", "author": author}  # fmt: skip
    out.append(poisoned)
    out.append(
        orjson.dumps(
            {"id": "p-bad", "thread_id": "t", "text": text, "posted_at": "not a time", "author": author}
        )
    )
    out.append(
        orjson.dumps({"id": "p-bad2", "thread_id": "t", "text": 5, "author": author})[:-3]
    )  # truncated
    out.append(
        orjson.dumps(
            {"id": "p-bad3", "thread_id": "t", "text": text * 3000, "posted_at": "2026-11-30T10:00:00Z"}
        )
    )
    return out


@pytest.mark.parametrize("loglevel", ["warning", "info"])
def test_no_personal_data_in_logs_or_metrics(
    kafka: Any, unique_name: str, start_worker: Callable[..., WorkerProcess], loglevel: str
) -> None:
    topics = prefixed_topics(unique_name)
    settings = load_settings({}, brokers=kafka.bootstrap, partitions=2, topics=topics)
    run(ensure_topics(settings))
    worker = start_worker(
        kafka.bootstrap, unique_name, partitions=2, topics=topics, loglevel=loglevel,
        module="tests.support.poisoned_worker",
    )  # fmt: skip
    events = _events()
    run(produce(kafka.bootstrap, topics.comments, events))
    report, _ = audit_until_complete(settings, timeout=120, poll=2)
    assert report.ok and report.dead_lettered == 3, report.render()
    exposed = worker.metrics_text()
    worker.stop()
    log = worker.log_path.read_text(errors="replace")
    assert "dead_letter" in log and "stage_error" in log  # the paths that could leak did run
    for what, value in SECRETS.items():
        assert value not in log, f"{what} in the worker log ({loglevel})"
        assert value not in exposed, f"{what} in /metrics"
