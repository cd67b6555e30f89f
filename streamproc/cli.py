"""The command line: worker, produce, tail, check, demo (and train/eval/model from training.py).

The only place that turns errors into exit codes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson
from aiokafka.errors import KafkaError

from streamproc import __version__
from streamproc.clients import client_options, ensure_topics, produce_values
from streamproc.config import Settings, load_settings
from streamproc.errors import ConfigError, DecodeError, StreamprocError
from streamproc.events import Envelope, decode_comment, encode, parse_time, stage_message

log = logging.getLogger("streamproc")
EXIT_ERROR = 2


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    stages = tuple(args.stages.split(",")) if getattr(args, "stages", None) else None
    return load_settings(
        brokers=getattr(args, "brokers", None),
        app_id=getattr(args, "app_id", None),
        stages=stages,
        partitions=getattr(args, "partitions", None),
        metrics_port=getattr(args, "metrics_port", None),
        store=getattr(args, "store", None),
        data_dir=getattr(args, "data_dir", None),
        **extra,
    )


# --- worker -------------------------------------------------------------------------------------


def cmd_worker(args: argparse.Namespace) -> int:
    from streamproc.worker import run_worker

    settings = _settings(args)
    return run_worker(settings, loglevel=args.loglevel)


# --- produce ------------------------------------------------------------------------------------


def _lines(path: str) -> Iterator[bytes]:
    stream: IO[bytes] = sys.stdin.buffer if path == "-" else Path(path).open("rb")  # noqa: SIM115
    with stream:
        for line in stream:
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield line


async def produce_with_progress(settings: Settings, values: Iterable[bytes], *, progress: bool = True) -> int:
    """Publish raw event bytes to the comments topic with a progress bar (see clients.produce_values)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    values = list(values)
    columns = (TextColumn("producing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not progress, transient=True) as bar:
        task = bar.add_task("produce", total=len(values))
        return await produce_values(settings, values, on_sent=lambda n: bar.update(task, completed=n))


def cmd_produce(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _require_brokers(settings)
    asyncio.run(ensure_topics(settings))
    sent = asyncio.run(produce_with_progress(settings, _lines(args.file), progress=not args.quiet))
    print(f"sent {sent} events to {settings.topics.comments}", file=sys.stderr)
    return 0


def _require_brokers(settings: Settings) -> None:
    if not settings.brokers:
        raise ConfigError("STREAMPROC_BROKERS is not set: pass --brokers or set it, e.g. localhost:9092")


# --- tail ---------------------------------------------------------------------------------------

ACTION_STYLE = {"approve": "green", "hold": "yellow", "reject": "red"}


def format_verdict(msg: dict[str, Any]) -> str:
    """One verdict as a human-readable line with its reasons."""
    head = msg.get("action") or msg.get("label", "?")
    reasons = "; ".join(
        f"{r['code']}: {r['text']}" for r in sorted(msg.get("reasons", []), key=lambda r: -r.get("weight", 0))
    )
    return (
        f"[{head.upper():7}] {msg['comment_id']} thread={msg['thread_id']} {msg['stage']}={msg['label']} "
        f"score={msg['score']:.2f}" + (f"  {reasons}" if reasons else "")
    )


async def tail_topic(
    settings: Settings,
    topic: str,
    *,
    from_beginning: bool,
    limit: int | None,
    timeout: float | None,
    as_json: bool,
    out: IO[str],
) -> int:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        **client_options(settings),
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    seen = 0
    try:
        while limit is None or seen < limit:
            batch = await consumer.getmany(timeout_ms=1000)
            if not batch:
                if timeout is not None:
                    timeout -= 1.0
                    if timeout <= 0:
                        break
                continue
            for record in (r for records in batch.values() for r in records):
                if record.value is None or (limit is not None and seen >= limit):
                    continue
                msg = orjson.loads(record.value)
                print(record.value.decode() if as_json else format_verdict(msg), file=out, flush=True)
                seen += 1
    finally:
        await consumer.stop()
    return seen


def cmd_tail(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _require_brokers(settings)
    topic = args.topic or settings.topics.verdicts
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            tail_topic(
                settings,
                topic,
                from_beginning=args.from_beginning,
                limit=args.max,
                timeout=args.timeout,
                as_json=args.json,
                out=sys.stdout,
            )
        )
    return 0


# --- check --------------------------------------------------------------------------------------


def check_lines(
    lines: Iterable[bytes], settings: Settings
) -> Iterator[tuple[int, dict[str, Any] | DecodeError]]:
    """Run every stage offline over JSONL events: (line number, final verdict message or error)."""
    from streamproc.pipeline import OfflinePipeline

    pipeline = OfflinePipeline(settings)
    for number, line in enumerate(lines, 1):
        try:
            comment = decode_comment(line)
        except DecodeError as exc:
            yield number, exc
            continue
        env = Envelope(comment, {}, comment.posted_at)
        done = pipeline.run(env)
        yield number, stage_message(env, done.results[-1], action=done.action)


def cmd_check(args: argparse.Namespace) -> int:
    settings = _settings(args)
    bad = 0
    for number, outcome in check_lines(_lines(args.file), settings):
        if isinstance(outcome, DecodeError):
            bad += 1
            print(f"line {number}: {outcome.reason}: {outcome}", file=sys.stderr)
            continue
        if args.json:
            outcome.pop("comment", None)
            sys.stdout.write(encode(outcome).decode() + "\n")
        else:
            print(format_verdict(outcome))
            for link in outcome["stages"]["links"]["data"].get("links", []):
                print(
                    f"    link {link['url']}  domain={link['domain']}  flags={','.join(link['flags']) or '-'}"
                )
    if bad:
        print(f"{bad} invalid line(s) skipped", file=sys.stderr)
    return 0


# --- audit --------------------------------------------------------------------------------------

EXIT_MISSING = 1  # audit found comments without a verdict or dead letter (errors exit with 2)
_DURATION = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_when(value: str, now: float) -> float:
    """An RFC 3339 time, or a duration ago such as 90s, 15m, 2h, 1d (epoch seconds)."""
    value = value.strip()
    unit = _DURATION.get(value[-1:])
    if unit is not None and value[:-1].replace(".", "", 1).isdigit():
        return now - float(value[:-1]) * unit
    try:
        return parse_time(value, "time")
    except DecodeError:
        raise ConfigError(
            f"{value!r} is neither an RFC 3339 time (2026-11-30T10:00:00Z) nor a duration (15m, 2h)"
        ) from None


def cmd_audit(args: argparse.Namespace) -> int:
    import time

    from streamproc.audit import run_audit

    settings = _settings(args)
    _require_brokers(settings)
    now = time.time()
    report = asyncio.run(
        run_audit(
            settings,
            since=parse_when(args.since, now) if args.since else None,
            until=parse_when(args.until, now) if args.until else None,
            start_offset=args.start_offset,
            end_offset=args.end_offset,
            grace=args.grace,
        )
    )
    if args.json:
        sys.stdout.write(encode(report.to_dict()).decode() + "\n")
    else:
        print(report.render())
    return 0 if report.ok else EXIT_MISSING


# --- demo ---------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from streamproc.demo import run_demo

    return run_demo(count=args.count, keep_running=args.keep_running, metrics_port=args.metrics_port)


# --- parser -------------------------------------------------------------------------------------


def _broker_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--brokers", help="bootstrap servers, host:port[,host:port] (env STREAMPROC_BROKERS)")
    p.add_argument("--app-id", dest="app_id", help="consumer group / app id (env STREAMPROC_APP_ID)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamproc", description="Comment-stream link, duplicate and spam detection"
    )
    parser.add_argument("--version", action="version", version=f"streamproc {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("worker", help="run stage agents (embedded broker when no --brokers)")
    _broker_args(p)
    p.add_argument("--stages", help="comma-separated: links,duplicates,spam,decide (default all)")
    p.add_argument("--partitions", type=int, help="partitions of created topics (default 4)")
    p.add_argument(
        "--metrics-port", dest="metrics_port", type=int, help="/metrics port (default 9464, 0 = any)"
    )
    p.add_argument("--store", choices=["rocksdb://", "memory://"], help="table store (default rocksdb://)")
    p.add_argument("--data-dir", dest="data_dir", type=Path, help="state directory")
    p.add_argument("--loglevel", default="warning", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("produce", help="publish JSONL events (file or - for stdin) to the comments topic")
    _broker_args(p)
    p.add_argument("file", help="JSONL file, one comment event per line, or - for stdin")
    p.add_argument("--partitions", type=int, help="partitions if the topic is created (default 4)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_produce)

    p = sub.add_parser("tail", help="follow a verdict topic")
    _broker_args(p)
    p.add_argument("--topic", help="topic to follow (default: the final verdicts topic)")
    p.add_argument("--from-beginning", action="store_true")
    p.add_argument("--max", type=int, help="stop after this many messages")
    p.add_argument("--timeout", type=float, help="stop after this many idle seconds")
    p.add_argument("--json", action="store_true", help="print raw JSON")
    p.set_defaults(func=cmd_tail)

    p = sub.add_parser(
        "audit",
        help="reconcile the comments topic with verdicts and dead letters; exit 1 if any is missing",
    )
    _broker_args(p)
    p.add_argument("--since", help="first comment to audit: RFC 3339 time or a duration ago (15m, 2h)")
    p.add_argument("--until", help="last comment to audit: RFC 3339 time or a duration ago")
    p.add_argument("--start-offset", type=int, help="first offset to audit, on every partition")
    p.add_argument("--end-offset", type=int, help="offset to stop before, on every partition")
    p.add_argument(
        "--grace",
        type=float,
        default=60.0,
        help="seconds a comment may wait for its verdict before it counts as missing (60)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON (lists every missing id)")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("check", help="run all stages offline: JSONL in, verdicts out, no broker")
    p.add_argument("file", help="JSONL file or - for stdin")
    p.add_argument("--json", action="store_true", help="print verdicts as JSON lines")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("demo", help="embedded broker + all stages on a generated comment stream")
    p.add_argument("--count", type=int, default=1500, help="comments to generate (default 1500)")
    p.add_argument("--metrics-port", dest="metrics_port", type=int, default=0, help="/metrics port (0 = any)")
    p.add_argument("--keep-running", action="store_true", help="keep the worker and broker up until Ctrl-C")
    p.set_defaults(func=cmd_demo)

    from streamproc.training import register_cli

    register_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except StreamprocError as exc:
        print(f"streamproc: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KafkaError as exc:  # brokers unreachable, refused credentials, missing topic...
        print(
            f"streamproc: Kafka error: {exc!r} (brokers {getattr(args, 'brokers', None) or 'from STREAMPROC_BROKERS'})",
            file=sys.stderr,
        )
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
