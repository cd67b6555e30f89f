"""The watchdog on a real worker: one of two workers is frozen (SIGSTOP: alive to the group, but
answering nothing), so the other's comments wait for state answers that never come. The waiting
worker notices (log, streamproc_stalled, /healthz 503), restarts itself in place (same pid), and
once the frozen one is thawed every comment gets its verdict (audit: 0 missing)."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from streamproc.clients import ensure_topics
from streamproc.config import load_settings
from tests.support.faults import Feeder, audit_until_complete, mixed_stream
from tests.support.workers import WorkerProcess, prefixed_topics, wait_assigned

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

STALL_SECONDS = 15


def _health(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _status(port: int) -> int | None:
    """The health code, or None while the worker re-executes itself (its port is closed then)."""
    try:
        return _health(port)[0]
    except OSError:
        return None


def test_a_stalled_worker_says_so_and_restarts_itself(
    kafka: Any, unique_name: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    topics = prefixed_topics(unique_name)
    settings = load_settings({}, brokers=kafka.bootstrap, partitions=4, topics=topics)
    asyncio.run(ensure_topics(settings))
    env = {
        "STREAMPROC_STALL_SECONDS": str(STALL_SECONDS),
        "STREAMPROC_SESSION_TIMEOUT": "90",  # the frozen worker stays in the group meanwhile
    }
    waiting, frozen = (
        start_worker(
            kafka.bootstrap, unique_name, partitions=4, topics=topics, name=n, extra_env=env, loglevel="info"
        )
        for n in ("waiting", "frozen")
    )
    wait_assigned([waiting, frozen], topics.comments, 4, timeout=120)
    assert _health(waiting.metrics_port) == (200, {"status": "running"})
    pid = waiting.proc.pid if waiting.proc else 0
    assert frozen.proc is not None
    frozen.proc.send_signal(signal.SIGSTOP)
    try:
        feeder = Feeder(settings, mixed_stream(300, 0, prefix="wd-"), rate=20).start()
        seen_503 = None
        deadline = time.monotonic() + STALL_SECONDS + 120
        while time.monotonic() < deadline and seen_503 is None:
            try:
                code, body = _health(waiting.metrics_port)
                if code == 503:
                    seen_503 = body
            except OSError:
                pass  # restarting
            time.sleep(0.5)
        assert seen_503 is not None and seen_503["status"] == "stalled", waiting.log()
        assert "no progress on partitions" in seen_503["reason"]
        deadline = time.monotonic() + 60
        while "worker_restart" not in waiting.log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        frozen.proc.send_signal(signal.SIGCONT)
    log = waiting.log_path.read_text()
    assert "worker_stalled" in log and "worker_restart" in log, waiting.log()
    assert (
        waiting.proc is not None and waiting.proc.pid == pid and waiting.proc.poll() is None
    )  # same process
    feeder.wait(timeout=120)
    report, took = audit_until_complete(settings, timeout=240)
    print(f"\n{report.render()}\naccounted for {took:.0f} s after the feed ended")
    assert report.ok, report.render() + waiting.log() + frozen.log()
    deadline = time.monotonic() + 60
    while _status(waiting.metrics_port) != 200 and time.monotonic() < deadline:
        time.sleep(1)
    restarts = waiting.log_path.read_text().count("worker_restart")
    print(f"the waiting worker restarted {restarts} time(s)")
    assert _status(waiting.metrics_port) == 200, waiting.log()
