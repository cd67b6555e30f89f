"""streamproc end to end next to the framework under it, on one Apache Kafka broker in one run:
a bare aiokafka consume-produce loop, a bare Faust forwarding agent, and streamproc (all stages,
RocksDB) in one process and in two, at 1 and at 4 partitions.

    .venv/bin/python bench/bench_pipeline.py [--count 20000] [--seconds 20] [--out bench-pipeline.json]

For each system (its own OS processes, its own topics and consumer group):
- burst: once the system is up, `--count` generated comments are published as fast as possible;
  throughput = comments / (last output's broker timestamp - first output's): what it drains;
- paced: then comments at 50% of that rate for `--seconds`; latency = the output record's
  timestamp - the send time the driver put in the comment (`metadata.sent_at`): p50, p95, p99.
The table and the ratios to the bare Faust agent at the same partition count are printed and
written as JSON. The machines here are shared and noisy (2 cores for the broker, the driver and
the system): compare ratios within one run, and repeat a run before trusting it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streamproc.broker.kafka import KafkaBroker
from streamproc.broker.process import free_port, stop_process, tail
from streamproc.gen.demo import generate

HERE = Path(__file__).resolve().parent
WARMUP = 30


@dataclass
class Row:
    system: str
    partitions: int
    processes: int
    comments_per_s: float
    paced_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    vs_faust: float = 0.0


def batch(n: int, seed: int) -> list[dict[str, Any]]:
    events = generate(n, seed=seed, malformed=0).events
    tag = uuid.uuid4().hex[:6]
    for e in events:
        e["id"] = f"{tag}-{e['id']}"
    return events


async def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


def sent_at(msg: dict[str, Any]) -> float:
    comment = msg.get("comment", msg)  # streamproc verdicts carry the comment; baselines echo it
    return float(comment["metadata"]["sent_at"])


async def drive(
    bootstrap: str, source: str, sink: str, events: list[dict[str, Any]], rate: float | None, timeout: float
) -> tuple[float, list[float]]:
    """Publish events (at `rate`/s, or as fast as possible) and read the outputs: the drain rate
    (by the outputs' broker timestamps) and each output's latency."""
    consumer = AIOKafkaConsumer(sink, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="latest")
    await consumer.start()
    await consumer.seek_to_end()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks=1)
    await producer.start()
    expected = {e["id"] for e in events}

    async def send_all() -> None:
        start = time.time()
        for i, event in enumerate(events):
            if rate:
                delay = start + i / rate - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            event["metadata"] = {"sent_at": time.time()}
            await producer.send(source, orjson.dumps(event), key=event["id"].encode())
        await producer.flush()

    sender = asyncio.create_task(send_all())
    seen: dict[str, tuple[float, float]] = {}  # id -> (output timestamp, latency)
    deadline = time.time() + timeout
    try:
        while len(seen) < len(expected) and time.time() < deadline:
            batch_ = await consumer.getmany(timeout_ms=200)
            for records in batch_.values():
                for r in records:
                    msg = orjson.loads(r.value)
                    cid = msg.get("comment_id", msg.get("id"))
                    if cid in expected and cid not in seen:
                        ts = r.timestamp / 1000
                        seen[cid] = (ts, ts - sent_at(msg))
        await sender
    finally:
        await producer.stop()
        await consumer.stop()
    if len(seen) < len(expected):
        raise RuntimeError(f"only {len(seen)}/{len(expected)} outputs arrived in {timeout:.0f} s")
    stamps = sorted(t for t, _ in seen.values())
    rate_out = (len(stamps) - 1) / max(stamps[-1] - stamps[0], 1e-6)
    return rate_out, sorted(lat for _, lat in seen.values())


def pct(values: list[float], q: float) -> float:
    return round(values[min(len(values) - 1, int(len(values) * q))] * 1000, 1)


def measure(name: str, procs: int, partitions: int, bootstrap: str, source: str, sink: str,
            args: argparse.Namespace) -> Row:  # fmt: skip
    seed = iter(range(1, 10**6))
    asyncio.run(drive(bootstrap, source, sink, batch(WARMUP, next(seed)), None, 180))  # all assigned
    burst, _ = asyncio.run(drive(bootstrap, source, sink, batch(args.count, next(seed)), None, 900))
    rate = max(1.0, burst * 0.5)
    _, lat = asyncio.run(
        drive(bootstrap, source, sink, batch(int(rate * args.seconds), next(seed)), rate, 600)
    )
    row = Row(
        name,
        partitions,
        procs,
        round(burst, 1),
        round(rate, 1),
        pct(lat, 0.5),
        pct(lat, 0.95),
        pct(lat, 0.99),
    )
    print(
        f"{name:22} p={partitions} x{procs}  {row.comments_per_s:>9.1f}/s   at {rate:>7.1f}/s: "
        f"p50 {row.p50_ms:>7.1f} ms  p95 {row.p95_ms:>7.1f} ms  p99 {row.p99_ms:>7.1f} ms",
        flush=True,
    )
    return row


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`cmd` in the run's work directory (a bare Faust app writes its data directory there)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent
        )


def metrics_up(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1).close()
        return True
    except OSError:
        return False


def owned(port: int, topic: str) -> int:
    """Input partitions a worker owns, from its per-partition lag gauge."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
        text = resp.read().decode()
    return sum(
        1
        for line in text.splitlines()
        if line.startswith("streamproc_consumer_lag{") and f'topic="{topic}"' in line
    )


def run_streamproc(bootstrap: str, partitions: int, procs: int, work: Path, args: argparse.Namespace) -> Row:
    app = f"bench-sp-{uuid.uuid4().hex[:6]}"
    topics = {f"STREAMPROC_TOPIC_{t.upper()}": f"{app}.{t}" for t in ("comments", "verdicts", "dlq", "links", "duplicates", "spam", "feedback", "model")}  # fmt: skip
    asyncio.run(create_topics(bootstrap, [f"{app}.comments"], partitions))
    with ExitStack() as stack:
        ports = []
        for i in range(procs):
            port = free_port()
            env = {
                "STREAMPROC_BROKERS": bootstrap,
                "STREAMPROC_APP_ID": app,
                "STREAMPROC_PARTITIONS": str(partitions),
                "STREAMPROC_METRICS_PORT": str(port),
                "STREAMPROC_METRICS_HOST": "127.0.0.1",
                "STREAMPROC_STORE": "rocksdb://",
                "STREAMPROC_DATA_DIR": str(work / app / f"w{i}"),
                **topics,
            }
            log = work / f"{app}-w{i}.log"
            proc = start([sys.executable, "-m", "streamproc", "worker"], env, log)
            stack.callback(stop_process, proc)
            deadline = time.time() + 90
            while not metrics_up(port):
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"worker did not start:\n{tail(log)}")
                time.sleep(0.3)
            ports.append(port)
        deadline = time.time() + 180
        while sum(owned(p, f"{app}.comments") for p in ports) != partitions or not all(
            owned(p, f"{app}.comments") for p in ports[: min(procs, partitions)]
        ):
            if time.time() > deadline:
                raise RuntimeError("workers never shared the partitions")
            time.sleep(1)
        return measure("streamproc", procs, partitions, bootstrap, f"{app}.comments", f"{app}.verdicts", args)


def run_bare(name: str, bootstrap: str, partitions: int, work: Path, args: argparse.Namespace) -> Row:
    tag = uuid.uuid4().hex[:6]
    src, dst = f"bench.{name}.{tag}.in", f"bench.{name}.{tag}.out"
    asyncio.run(create_topics(bootstrap, [src, dst], partitions))
    proc = start(
        [sys.executable, str(HERE / f"bare_{name}.py"), bootstrap, src, dst], {}, work / f"{name}-{tag}.log"
    )
    try:
        return measure(f"bare {name}", 1, partitions, bootstrap, src, dst, args)
    finally:
        stop_process(proc)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=20000, help="comments in the burst (20000)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the paced run (20)")
    parser.add_argument("--partitions", default="1,4", help="partition counts to run (1,4)")
    parser.add_argument("--only", default="", help="comma-separated: aiokafka,faust,streamproc,streamproc2")
    parser.add_argument("--out", default="bench-pipeline.json", help="JSON file with the rows")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    only = set(filter(None, args.only.split(","))) or {"aiokafka", "faust", "streamproc", "streamproc2"}
    rows: list[Row] = []
    with KafkaBroker() as broker:
        print(
            f"Apache Kafka at {broker.bootstrap}; burst {args.count}, paced {args.seconds:.0f} s; logs in {work}"
        )
        for partitions in (int(p) for p in args.partitions.split(",")):
            if "aiokafka" in only:
                rows.append(run_bare("aiokafka", broker.bootstrap, partitions, work, args))
            if "faust" in only:
                rows.append(run_bare("faust", broker.bootstrap, partitions, work, args))
            if "streamproc" in only:
                rows.append(run_streamproc(broker.bootstrap, partitions, 1, work, args))
            if "streamproc2" in only and partitions > 1:  # one partition leaves the second idle
                rows.append(run_streamproc(broker.bootstrap, partitions, 2, work, args))
    faust = {r.partitions: r.comments_per_s for r in rows if r.system == "bare faust"}
    one = {r.partitions: r.comments_per_s for r in rows if r.system == "streamproc" and r.processes == 1}
    print(
        f"\n{'system':22} {'p':>2} {'procs':>5} {'burst/s':>9} {'÷ faust':>8} {'paced/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
    )
    for r in rows:
        r.vs_faust = round(r.comments_per_s / faust[r.partitions], 3) if r.partitions in faust else 0.0
        print(
            f"{r.system:22} {r.partitions:>2} {r.processes:>5} {r.comments_per_s:>9.1f} {r.vs_faust:>8.2f} "
            f"{r.paced_per_s:>8.1f} {r.p50_ms:>8.1f} {r.p95_ms:>8.1f} {r.p99_ms:>8.1f}"
        )
    for r in rows:
        if r.system == "streamproc" and r.processes == 2 and r.partitions in one:
            print(
                f"two processes ÷ one at {r.partitions} partitions: {r.comments_per_s / one[r.partitions]:.2f}"
            )
    Path(args.out).write_bytes(orjson.dumps([asdict(r) for r in rows], option=orjson.OPT_INDENT_2))
    print(f"rows written to {args.out}")


if __name__ == "__main__":
    main()
