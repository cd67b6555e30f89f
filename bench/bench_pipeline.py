"""End-to-end throughput and latency of the full streamproc pipeline, next to a bare aiokafka
consume-produce loop and a bare Faust pass-through agent, on the same broker in one run.

    .venv/bin/python bench/bench_pipeline.py [--broker tansu|kafka] [--count 3000] [--rate 100]

Each system runs as its own OS process. The driver publishes the same generated comments, each
carrying its send time in `metadata.sent_at`, and reads the system's output topic:
- burst: all comments as fast as possible -> comments/s (first send to last output);
- paced: `--rate` comments/s for `--seconds` -> p50/p99 latency at a load every system sustains.
Machines here are noisy: compare the ratios within one run, not absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streamproc.broker.kafka import KafkaBroker
from streamproc.broker.process import free_port, stop_process, tail
from streamproc.broker.tansu import Tansu
from streamproc.gen.demo import generate

HERE = Path(__file__).parent
WARMUP = 20


async def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


def sent_at(value: bytes) -> float:
    msg = orjson.loads(value)
    comment = msg.get("comment", msg)  # streamproc verdicts carry the comment; baselines echo it
    return float(comment["metadata"]["sent_at"])


async def drive(
    bootstrap: str, source: str, sink: str, events: list[dict[str, Any]], rate: float | None, timeout: float
) -> tuple[float, list[float]]:
    """Publish events (at `rate`/s, or as fast as possible) and collect their latencies."""
    consumer = AIOKafkaConsumer(sink, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="latest")
    await consumer.start()
    await consumer.seek_to_end()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    latencies: list[float] = []
    expected = {e["id"] for e in events}

    async def send_all() -> float:
        start = time.time()
        for i, event in enumerate(events):
            if rate:
                delay = start + i / rate - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            event["metadata"] = {"sent_at": time.time()}
            await producer.send(source, orjson.dumps(event), key=event["id"].encode())
        await producer.flush()
        return start

    sender = asyncio.create_task(send_all())
    seen: set[str] = set()
    last = time.time()
    deadline = time.time() + timeout
    try:
        while len(seen) < len(expected) and time.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.time()
            for records in batch.values():
                for r in records:
                    msg = orjson.loads(r.value)
                    cid = msg.get("comment_id", msg.get("id"))
                    if cid in expected and cid not in seen:
                        seen.add(cid)
                        latencies.append(now - sent_at(r.value))
                        last = now
        start = await sender
    finally:
        await producer.stop()
        await consumer.stop()
    if len(seen) < len(expected):
        raise RuntimeError(f"only {len(seen)}/{len(expected)} outputs arrived in {timeout:.0f}s")
    return len(expected) / max(last - start, 1e-9), latencies


def start_process(
    cmd: list[str], env: dict[str, str], log: Path, ready: Callable[[], bool]
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd} exited:\n{tail(log)}")
        if ready():
            return proc
        time.sleep(0.2)
    stop_process(proc)
    raise RuntimeError(f"{cmd} not ready:\n{tail(log)}")


def measure(name: str, bootstrap: str, source: str, sink: str, args: argparse.Namespace) -> dict[str, Any]:
    gen = iter(range(10**9))

    def batch(n: int) -> list[dict[str, Any]]:
        events = generate(n, seed=next(gen), malformed=0).events
        tag = uuid.uuid4().hex[:6]
        for e in events:
            e["id"] = f"{tag}-{e['id']}"
        return events

    asyncio.run(drive(bootstrap, source, sink, batch(WARMUP), None, 120))  # waits for partition assignment
    rate, _ = asyncio.run(drive(bootstrap, source, sink, batch(args.count), None, 600))
    _, lat = asyncio.run(drive(bootstrap, source, sink, batch(int(args.rate * args.seconds)), args.rate, 300))
    lat.sort()
    row = {
        "system": name,
        "comments_per_s": round(rate, 1),
        "p50_ms": round(statistics.median(lat) * 1000, 1),
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1),
    }
    print(
        f"{name:12} {row['comments_per_s']:>10.1f} comments/s   p50 {row['p50_ms']:>8.1f} ms   "
        f"p99 {row['p99_ms']:>8.1f} ms  (paced at {args.rate:.0f}/s)",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--broker", choices=["tansu", "kafka"], default="kafka")
    parser.add_argument("--count", type=int, default=3000, help="comments in the burst run")
    parser.add_argument("--rate", type=float, default=100.0, help="comments/s in the paced run")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the paced run")
    parser.add_argument("--partitions", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    with ExitStack() as stack:
        broker = stack.enter_context(Tansu() if args.broker == "tansu" else KafkaBroker())
        bootstrap = broker.bootstrap
        print(
            f"broker={args.broker} {bootstrap} partitions={args.partitions} burst={args.count} "
            f"paced={args.rate:.0f}/s x {args.seconds:.0f}s",
            flush=True,
        )
        results = []
        for name in ("aiokafka", "faust"):
            src, dst = f"bench.{name}.in", f"bench.{name}.out"
            asyncio.run(create_topics(bootstrap, [src, dst], args.partitions))
            script = HERE / f"bare_{name}.py"
            proc = start_process(
                [sys.executable, str(script), bootstrap, src, dst], {}, work / f"{name}.log", lambda: True
            )
            stack.callback(stop_process, proc)
            results.append(measure(name, bootstrap, src, dst, args))
            stop_process(proc)
        port = free_port()
        env = {
            "STREAMPROC_BROKERS": bootstrap,
            "STREAMPROC_APP_ID": "bench-streamproc",
            "STREAMPROC_PARTITIONS": str(args.partitions),
            "STREAMPROC_METRICS_PORT": str(port),
            "STREAMPROC_STORE": "memory://" if args.broker == "tansu" else "rocksdb://",
            "STREAMPROC_DATA_DIR": str(work / "state"),
        }

        def metrics_up() -> bool:
            try:
                import urllib.request

                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1).close()
                return True
            except OSError:
                return False

        proc = start_process(
            [sys.executable, "-m", "streamproc", "worker"], env, work / "streamproc.log", metrics_up
        )
        stack.callback(stop_process, proc)
        results.append(measure("streamproc", bootstrap, "comments", "verdicts", args))
        base = {r["system"]: r for r in results}
        sp = base["streamproc"]["comments_per_s"]
        print(
            f"ratios: streamproc/faust {sp / base['faust']['comments_per_s']:.2f}, "
            f"streamproc/aiokafka {sp / base['aiokafka']['comments_per_s']:.3f}"
        )


if __name__ == "__main__":
    main()
