"""Worker processes and Kafka clients for end-to-end tests (real brokers, separate OS processes)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streamproc.broker.process import free_port, stop_process, tail
from streamproc.config import Topics


def prefixed_topics(prefix: str) -> Topics:
    """The published topics renamed with a per-test prefix, so tests share a broker safely."""
    return Topics(**{f.name: f"{prefix}.{getattr(Topics(), f.name)}" for f in fields(Topics)})


def topics_env(topics: Topics) -> dict[str, str]:
    return {f"STREAMPROC_TOPIC_{f.name.upper()}": getattr(topics, f.name) for f in fields(Topics)}


@dataclass
class WorkerProcess:
    """`python -m streamproc worker` in its own process, with its log in a file."""

    bootstrap: str
    app_id: str
    workdir: Path
    stages: str = "links,duplicates,spam,decide"
    store: str = "memory://"
    partitions: int = 2
    topics: Topics = field(default_factory=Topics)
    extra_env: dict[str, str] = field(default_factory=dict)
    metrics_port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    name: str = "worker"
    loglevel: str = "warning"
    module: str = "streamproc"  # python -m <module> worker: a test may wrap the CLI

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self) -> WorkerProcess:
        self.metrics_port = self.metrics_port or free_port()
        env = {
            **os.environ,
            "STREAMPROC_BROKERS": self.bootstrap,
            "STREAMPROC_APP_ID": self.app_id,
            "STREAMPROC_STAGES": self.stages,
            "STREAMPROC_STORE": self.store,
            "STREAMPROC_PARTITIONS": str(self.partitions),
            "STREAMPROC_METRICS_PORT": str(self.metrics_port),
            "STREAMPROC_METRICS_HOST": "127.0.0.1",
            "STREAMPROC_DATA_DIR": str(self.workdir / f"{self.name}-data"),
            # A killed worker's partitions move after its session expires: 12 s keeps the fault
            # tests short; STREAMPROC_SESSION_TIMEOUT=30 runs them at the production default.
            "STREAMPROC_SESSION_TIMEOUT": os.environ.get("STREAMPROC_SESSION_TIMEOUT", "12"),
            **topics_env(self.topics),
            **self.extra_env,
        }
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module, "worker", "--loglevel", self.loglevel],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.assert_alive()
            try:
                self.metrics_text()
                return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"worker {self.name} serves no /metrics after 60 s:\n{self.log()}")

    def log(self) -> str:
        return tail(self.log_path, 60)

    def assert_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise AssertionError(f"worker {self.name} is not running (exit {code}):\n{self.log()}")

    def metrics_text(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            return str(resp.read().decode())

    def _samples(self, name: str, labels: dict[str, str]) -> list[float]:
        out = []
        for line in self.metrics_text().splitlines():
            m = re.match(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$", line)
            if not m or m.group(1) != name:
                continue
            got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            if all(got.get(k) == v for k, v in labels.items()):
                out.append(float(m.group(3)))
        return out

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels` (0 when absent)."""
        return sum(self._samples(name, labels))

    def metric_series(self, name: str, **labels: str) -> int:
        """How many series of `name` have labels including `labels`."""
        return len(self._samples(name, labels))

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=30)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)


async def produce(bootstrap: str, topic: str, values: Iterable[bytes | dict[str, Any]]) -> int:
    """Send events (dicts are JSON-encoded, bytes sent as they are), keyed by id when present."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    count = 0
    try:
        for value in values:
            if isinstance(value, dict):
                key, data = str(value.get("id", "")).encode() or None, orjson.dumps(value)
            else:
                key, data = None, value
            await producer.send(topic, data, key=key)
            count += 1
        await producer.flush()
    finally:
        await producer.stop()
    return count


async def consume(bootstrap: str, topic: str, *, expected: int, timeout: float) -> list[Any]:
    """Read records of `topic` from the beginning until `expected` arrived or `timeout` passed."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
        # a short grace period shows extra (duplicate) records too
        batch = await consumer.getmany(timeout_ms=1000)
        for part in batch.values():
            records.extend(part)
    finally:
        await consumer.stop()
    return records


async def read_to_end(bootstrap: str, topic: str, *, timeout: float = 30) -> list[Any]:
    """Every record of `topic` up to its end offsets as of the call: returns as soon as it has
    them, where `consume` waits for a count or its timeout."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        cluster = await consumer._client.fetch_all_metadata()  # consumer.topics() keeps no partitions
        tps = [TopicPartition(topic, p) for p in sorted(cluster.partitions_for_topic(topic) or ())]
        if not tps:
            return records
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout
        left = [tp for tp in tps if await consumer.position(tp) < end[tp]]
        while left and time.monotonic() < deadline:
            for part in (await consumer.getmany(*left, timeout_ms=500)).values():
                records.extend(part)
            left = [tp for tp in left if await consumer.position(tp) < end[tp]]
    finally:
        await consumer.stop()
    return records


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def latest_verdicts(records: list[Any]) -> dict[str, dict[str, Any]]:
    """Verdict messages by comment id; the last one wins (a re-delivered comment is judged again)."""
    out = {}
    for r in records:
        msg = orjson.loads(r.value)
        out[msg["comment_id"]] = msg
    return out


def wait_for_verdicts(bootstrap: str, topic: str, ids: Iterable[str], timeout: float) -> dict[str, Any]:
    """The latest verdict of each comment on `topic`, once every one of `ids` has one (or at the
    timeout: the caller says which are missing)."""
    ids = list(ids)
    deadline = time.monotonic() + timeout
    while True:
        verdicts = latest_verdicts(run(read_to_end(bootstrap, topic)))
        if all(i in verdicts for i in ids) or time.monotonic() > deadline:
            return verdicts
        time.sleep(1)


def duplicates_trail(
    bootstrap: str, app_id: str, topics: Any, ids: list[str], workers: list[WorkerProcess]
) -> str:
    """Where the comments without a verdict stopped: their records on every topic of the (all
    stages) group, and the workers' logs."""
    hops = [
        ("comments", topics.comments),
        ("requests", f"{app_id}-state-requests"),
        ("replies", f"{app_id}-state-replies"),
        ("links", topics.links),
        ("duplicates", topics.duplicates),
        ("verdicts", topics.verdicts),
        ("dlq", topics.dlq),
    ]
    wanted = {i.encode() for i in ids[:20]}
    lines = []
    for hop, topic in hops:
        for r in run(read_to_end(bootstrap, topic)):
            key = r.key or b""
            if key not in wanted:  # requests and replies: the id is in the value, if at all
                key = next((i for i in wanted if b'"' + i + b'"' in (r.value or b"")), key)
            if key in wanted:
                headers = {k: v.decode()[:80] for k, v in (r.headers or ())}
                lines.append(f"{key.decode()} {hop} p{r.partition}@{r.offset} {headers or ''}")
    logs = "\n".join(f"--- {w.name} ---\n{w.log()}" for w in workers)
    return "\n".join(sorted(lines)) + "\n" + logs


def wait_assigned(workers: list[WorkerProcess], topic: str, partitions: int, timeout: float) -> None:
    """Wait until the workers together own every partition of `topic`, each owning some (read from
    the per-partition lag gauge each worker exports for its assignment)."""
    deadline = time.monotonic() + timeout
    while True:
        owned = [w.metric_series("streamproc_consumer_lag", topic=topic) for w in workers]
        if sum(owned) == partitions and all(owned):
            return
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {w.name} ---\n{w.log()}" for w in workers)
            raise AssertionError(f"partitions of {topic} owned: {owned} after {timeout:.0f} s\n{logs}")
        time.sleep(1)
