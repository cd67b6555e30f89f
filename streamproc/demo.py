"""`streamproc demo`: embedded broker, a worker process with every stage, a generated comment
stream, a live summary of the verdicts, a few of them with their reasons, and the metrics."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from streamproc.broker.process import free_port, stop_on_signals, stop_process, tail
from streamproc.broker.tansu import Tansu
from streamproc.cli import format_verdict, produce_with_progress
from streamproc.clients import ensure_topics
from streamproc.config import Settings, load_settings
from streamproc.errors import StreamprocError
from streamproc.events import encode
from streamproc.gen.demo import generate, interleave

WORKER_START_SECONDS = 60.0
# The demo's one worker joins its group alone, and Tansu answers a join only after half the
# session timeout (measured: 15 s at the default 30 s); there is no peer to wait for.
DEMO_SESSION_TIMEOUT = "6"
# Generous: the demo must finish on a busy 2-core machine, but never hang.
IDLE_TIMEOUT_SECONDS = 60.0
SHOW_METRICS = (
    "streamproc_comments_consumed_total",
    "streamproc_verdicts_total",
    "streamproc_actions_total",
    "streamproc_dead_letters_total",
    "streamproc_pipeline_seconds_count",
)


def _start_worker(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "STREAMPROC_BROKERS": settings.brokers,
        "STREAMPROC_APP_ID": settings.app_id,
        "STREAMPROC_STORE": "memory://",
        "STREAMPROC_PARTITIONS": str(settings.partitions),
        "STREAMPROC_METRICS_PORT": str(settings.metrics_port),
        "STREAMPROC_METRICS_HOST": "127.0.0.1",
        "STREAMPROC_SESSION_TIMEOUT": os.environ.get("STREAMPROC_SESSION_TIMEOUT", DEMO_SESSION_TIMEOUT),
    }
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamproc", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + WORKER_START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StreamprocError(f"the demo worker exited with {proc.returncode}:\n{tail(log_path)}")
        try:
            _scrape(settings.metrics_port)
            return proc
        except OSError:
            time.sleep(0.2)
    stop_process(proc)
    raise StreamprocError(f"the demo worker did not start in {WORKER_START_SECONDS:.0f}s:\n{tail(log_path)}")


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return str(resp.read().decode())


def _summary(counts: Counter[str], total: int, started: float, first: float | None) -> Group:
    """The verdict counts so far, and a line under them: the wall time since the comments were
    published, and the rate over the time since the first verdict (before it, the worker was
    joining its group). A line of its own: a caption wraps at the narrow table's width."""
    table = Table(title="streamproc demo: final verdicts", show_header=True)
    table.add_column("action")
    table.add_column("comments", justify="right")
    for action, style in (("approve", "green"), ("hold", "yellow"), ("reject", "red")):
        table.add_row(f"[{style}]{action}[/]", str(counts[action]))
    done = sum(counts.values())
    now = time.monotonic()
    rate = f", {(done - 1) / max(now - first, 1e-6):.0f} comments/s" if first is not None and done > 1 else ""
    return Group(table, Text(f"{done}/{total} verdicts in {now - started:.1f} s{rate}", style="dim"))


async def _follow(
    settings: Settings, total: int, console: Console, worker: subprocess.Popen[bytes]
) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        settings.topics.verdicts,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    verdicts: dict[str, dict[str, Any]] = {}
    counts: Counter[str] = Counter()
    started = last = time.monotonic()
    first: float | None = None
    try:
        with Live(_summary(counts, total, started, first), console=console, refresh_per_second=4) as live:
            while len(verdicts) < total and time.monotonic() - last < IDLE_TIMEOUT_SECONDS:
                if worker.poll() is not None:
                    break  # reported by the caller with the worker's log
                batch = await consumer.getmany(timeout_ms=250)
                for records in batch.values():
                    for record in records:
                        msg = orjson.loads(record.value)
                        if msg["comment_id"] not in verdicts:  # at-least-once: upsert by id
                            counts[msg["action"]] += 1
                        verdicts[msg["comment_id"]] = msg
                        last = time.monotonic()
                        first = first or last
                live.update(_summary(counts, total, started, first))
        if not console.is_terminal:  # Live leaves its last line open when piped to a file
            console.line()
    finally:
        await consumer.stop()
    return list(verdicts.values())


def _examples(verdicts: list[dict[str, Any]], console: Console) -> None:
    console.rule("a few verdicts and why")
    shown = 0
    for action in ("reject", "hold", "approve"):
        picked = [v for v in verdicts if v["action"] == action]
        picked.sort(key=lambda v: -len(v["reasons"]))
        for v in picked[:2]:
            console.print(format_verdict(v), markup=False, highlight=False)
            shown += 1
    if not shown:
        console.print("no verdicts arrived")


def run_demo(*, count: int = 1500, keep_running: bool = False, metrics_port: int = 0) -> int:
    """The demo; SIGINT and SIGTERM stop the worker and the embedded broker before it exits."""
    with stop_on_signals():
        return _demo(count=count, keep_running=keep_running, metrics_port=metrics_port)


def _demo(*, count: int, keep_running: bool, metrics_port: int) -> int:
    console = Console()
    stream = generate(count)
    with Tansu() as broker:
        settings = load_settings(
            {},
            brokers=broker.bootstrap,
            app_id="streamproc-demo",
            store="memory://",
            partitions=2,
            metrics_port=metrics_port or free_port(),
        )
        console.print(f"embedded broker (Tansu) at {broker.bootstrap}")
        asyncio.run(ensure_topics(settings))
        log_path = Path(tempfile.mkstemp(prefix="streamproc-demo-worker-", suffix=".log")[1])
        worker = _start_worker(settings, log_path)
        metrics_url = f"http://127.0.0.1:{settings.metrics_port}/metrics"
        try:
            console.print(f"worker running all stages; metrics at {metrics_url}; log {log_path}")
            values = [v if isinstance(v, bytes) else encode(v) for v in interleave(stream)]
            sent = asyncio.run(produce_with_progress(settings, values))
            console.print(
                f"published {sent} events ({count} comments, {len(stream.malformed)} malformed) "
                f"to topic {settings.topics.comments}"
            )
            verdicts = asyncio.run(_follow(settings, count, console, worker))
            if worker.poll() is not None:
                raise StreamprocError(f"the demo worker died ({worker.returncode}):\n{tail(log_path)}")
            _examples(verdicts, console)
            console.rule("metrics")
            for line in _scrape(settings.metrics_port).splitlines():
                if line.startswith(SHOW_METRICS) and not line.endswith(" 0.0"):  # zeros are noise
                    console.print(line, markup=False, highlight=False)
            console.print(f"all metrics: {metrics_url} (while the worker runs)")
            if keep_running:
                console.print("worker and broker keep running; Ctrl-C stops them")
                try:
                    while worker.poll() is None:
                        time.sleep(1)
                except KeyboardInterrupt:  # SIGINT or SIGTERM: the way to end a kept demo
                    pass
        finally:
            stop_process(worker)
    if len(verdicts) < count:
        console.print(
            f"[red]only {len(verdicts)} of {count} comments got a verdict[/]; worker log {log_path}"
        )
        return 1
    console.print(f"[green]done:[/] {count} comments, each with one final verdict")
    return 0
