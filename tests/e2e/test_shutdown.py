"""Clean shutdown: the broker launchers, the worker and the demo stop on SIGINT and SIGTERM within
a bounded time, with or without a reachable broker, commit what they finished, and leave no child
process behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from streamproc.broker.kafka import KafkaBroker
from streamproc.clients import ensure_topics
from streamproc.config import load_settings
from tests.support.faults import audit_until_complete, mixed_stream, verdict_history
from tests.support.workers import WorkerProcess, prefixed_topics, produce, run

pytestmark = [pytest.mark.e2e]

STOP_SECONDS = 30.0  # the bound every process must stop within


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by a parent that is gone) counts as gone
    state = (
        Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        if Path(f"/proc/{pid}").exists()
        else "X"
    )
    return state not in ("Z", "X")


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in pids if _alive(p)]
        if not left:
            return []
        time.sleep(0.2)
    return [p for p in pids if _alive(p)]


def _interruptible() -> None:
    """SIGINT as a terminal leaves it: a test run started in the background by a shell without job
    control ignores SIGINT, and its children inherit that (they then rightly ignore Ctrl-C)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", *args], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})}, preexec_fn=_interruptible,
        )  # fmt: skip


def _wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(
                f"{text!r} not seen (exit {proc.poll()}):\n{log.read_text(errors='replace')[-3000:]}"
            )
        time.sleep(0.3)


def _stop(proc: subprocess.Popen[bytes], sig: signal.Signals) -> tuple[int, float]:
    started = time.monotonic()
    proc.send_signal(sig)
    try:
        code = proc.wait(STOP_SECONDS + 10)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"still running {STOP_SECONDS + 10:.0f} s after {sig.name}") from None
    return code, time.monotonic() - started


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_kafka_launcher_stops_its_broker(sig: signal.Signals, tmp_path: Path) -> None:
    log = tmp_path / "launcher.log"
    proc = _start(["streamproc.broker.kafka", "run"], log)
    try:
        _wait_for(log, "ready at", proc, 120)
        java = _children(proc.pid)
        assert java, "no broker process under the launcher"
        code, took = _stop(proc, sig)
        assert code == 0 and took < STOP_SECONDS, (code, took)
        assert not _wait_gone(java, 5), "the broker outlived its launcher"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_killed_launcher_takes_its_broker_with_it(tmp_path: Path) -> None:
    log = tmp_path / "launcher.log"
    proc = _start(["streamproc.broker.kafka", "run"], log)
    _wait_for(log, "ready at", proc, 120)
    java = _children(proc.pid)
    proc.kill()  # no chance to clean up: the parent-death signal does it
    proc.wait(10)
    assert not _wait_gone(java, STOP_SECONDS), "the broker outlived a SIGKILLed launcher"


def _worker_env(bootstrap: str, app_id: str, topics: Any, tmp_path: Path) -> dict[str, str]:
    from tests.support.workers import topics_env

    return {
        "STREAMPROC_BROKERS": bootstrap,
        "STREAMPROC_APP_ID": app_id,
        "STREAMPROC_PARTITIONS": "2",
        "STREAMPROC_METRICS_PORT": "0",
        "STREAMPROC_DATA_DIR": str(tmp_path / "data"),
        "STREAMPROC_SHUTDOWN_SECONDS": "15",
        **topics_env(topics),
    }


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_worker_stops_commits_and_its_successor_judges_nothing_again(
    kafka: Any,
    unique_name: str,
    sig: signal.Signals,
    tmp_path: Path,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    topics = prefixed_topics(unique_name)
    settings = load_settings({}, brokers=kafka.bootstrap, partitions=2, topics=topics)
    asyncio.run(ensure_topics(settings))
    events = mixed_stream(200, 0, seed=3)
    run(produce(kafka.bootstrap, topics.comments, events))
    log = tmp_path / "worker.log"
    proc = _start(["streamproc", "worker"], log, _worker_env(kafka.bootstrap, unique_name, topics, tmp_path))
    _wait_for(log, "worker stages=", proc, 60)
    report, _ = audit_until_complete(settings, timeout=120, poll=2)
    assert report.ok, report.render()
    code, took = _stop(proc, sig)
    assert code == 0 and took < 20, (code, took, log.read_text()[-2000:])
    # A successor in the same group reads from the committed offsets: nothing is judged again.
    start_worker(kafka.bootstrap, unique_name, partitions=2, topics=topics, name="successor")
    run(produce(kafka.bootstrap, topics.comments, mixed_stream(20, 0, seed=99, prefix="later-")))
    report, _ = audit_until_complete(settings, timeout=120, poll=2)
    history, _ = verdict_history(settings)
    assert report.ok and report.extra_verdicts == 0, report.render()
    assert len(history) == 220


def test_a_worker_whose_broker_is_gone_still_stops_in_bounded_time(unique_name: str, tmp_path: Path) -> None:
    with KafkaBroker() as broker:
        topics = prefixed_topics(unique_name)
        asyncio.run(ensure_topics(load_settings({}, brokers=broker.bootstrap, partitions=2, topics=topics)))
        log = tmp_path / "worker.log"
        env = {
            **_worker_env(broker.bootstrap, unique_name, topics, tmp_path),
            "STREAMPROC_SHUTDOWN_SECONDS": "8",
        }
        proc = _start(["streamproc", "worker"], log, env)
        try:
            _wait_for(log, "worker stages=", proc, 60)
            time.sleep(8)  # joined the group
            broker.stop(kill=True)
            time.sleep(2)
            code, took = _stop(proc, signal.SIGTERM)
            assert took < 8 + 5, took  # STREAMPROC_SHUTDOWN_SECONDS=8, then it exits anyway
            assert code in (0, 4), (code, log.read_text()[-2000:])  # 4: exited without a clean commit
        finally:
            if proc.poll() is None:
                proc.kill()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_embedded_worker_stops_its_broker(sig: signal.Signals, tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    env = {"STREAMPROC_BROKERS": "", "STREAMPROC_METRICS_PORT": "0", "STREAMPROC_DATA_DIR": str(tmp_path)}
    proc = _start(["streamproc", "worker"], log, env)
    try:
        _wait_for(log, "worker stages=", proc, 90)
        children = _children(proc.pid)
        assert children, "no embedded broker under the worker"
        code, took = _stop(proc, sig)
        assert code == 0 and took < STOP_SECONDS, (code, took, log.read_text()[-2000:])
        assert not _wait_gone(children, 5), "the embedded broker outlived the worker"
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_demo_stops_its_worker_and_broker(sig: signal.Signals, tmp_path: Path) -> None:
    log = tmp_path / "demo.log"
    proc = _start(["streamproc", "demo", "--count", "100", "--keep-running"], log, {"COLUMNS": "120"})
    try:
        _wait_for(log, "keep running", proc, 180)
        family = _children(proc.pid)
        family += [grand for child in family for grand in _children(child)]
        assert len(family) >= 2, f"expected the demo's worker and broker, found {family}"
        code, took = _stop(proc, sig)
        assert code in (0, 130) and took < STOP_SECONDS, (code, took, log.read_text()[-2000:])
        assert not _wait_gone(family, 5), "the demo left processes behind"
    finally:
        if proc.poll() is None:
            proc.kill()
