"""Bad input at a running worker: Hypothesis generates at least 10,000 messages (invalid UTF-8,
truncated and non-object JSON, wrong types, missing and oversized fields, texts over the limit,
deep nesting, NaN and Infinity, control and bidi characters, absurd and future timestamps,
duplicate ids, empty and huge keys, headers) and every one must end as a final verdict or a dead
letter with a known reason, while the worker keeps running.

STREAMPROC_FAULT_BAD_MESSAGES sets how many (10,000 by default, also in CI); the examples are
derandomised in CI so a failure reproduces, STREAMPROC_FAULT_RANDOM=1 explores new ones by hand.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from streamproc.clients import ensure_topics
from streamproc.config import load_settings
from streamproc.events import MAX_EVENT_BYTES, MAX_ID_CHARS, MAX_TEXT_CHARS
from streamproc.metrics import DEAD_LETTER_REASONS
from tests.support.faults import audit_until_complete
from tests.support.workers import WorkerProcess, prefixed_topics

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

MESSAGES = int(os.environ.get("STREAMPROC_FAULT_BAD_MESSAGES", "10000"))
BATCH = 10  # messages per Hypothesis example (its entropy budget per example is small)
RANDOM = os.environ.get("STREAMPROC_FAULT_RANDOM") == "1"

Message = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]  # key, value, headers

BIDI_AND_CONTROL = "\u202e\u202d\u2066\u2067\u2069\u200f\u200e\x00\x07\x1b\x7f\u0085\ufeff\u200b"
TIMES = st.one_of(
    st.sampled_from(
        [
            "2026-11-30T10:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-13-45T99:00:00Z",
            "2026-11-30T10:00:00", "2026-11-30", "", "now", "1e309", "2026-11-30T10:00:00+25:00",
            "2100-01-01T00:00:00+14:00", "1970-01-01T00:00:00-12:00", "2026-11-30T10:00:00.123456789Z",
        ]
    ),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
)  # fmt: skip
VALID_TEXTS = st.one_of(  # drawn directly: filtering TEXTS for these took half the test's time
    st.text(max_size=300),
    st.text(alphabet=st.sampled_from(BIDI_AND_CONTROL + "abc .:/"), max_size=200),
    st.just("see http://example.com " * 40),
)
TEXTS = st.one_of(
    VALID_TEXTS, st.just("x" * (MAX_TEXT_CHARS + 1)),
    st.integers(), st.none(), st.lists(st.text(max_size=5), max_size=3), st.floats(allow_nan=True),
)  # fmt: skip
IDS = st.one_of(
    st.text(min_size=1, max_size=40), st.just(""), st.just("x" * (MAX_ID_CHARS + 1)), st.integers(),
    st.sampled_from(["dup-1", "dup-2"]),  # duplicate ids across messages
)  # fmt: skip
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


@st.composite
def comment_like(draw: Any) -> dict[str, Any]:
    """A comment event with any of its fields missing, wrong or odd."""
    obj: dict[str, Any] = {
        "id": draw(IDS),
        "thread_id": draw(IDS),
        "text": draw(TEXTS),
        "posted_at": draw(TIMES),
    }
    if draw(st.booleans()):
        obj["author"] = draw(
            st.one_of(
                st.fixed_dictionaries(
                    {"id": IDS, "name": st.text(max_size=2000), "ip": st.text(max_size=80)}
                ),
                st.text(max_size=10),
                st.integers(),
            )
        )
    for name in draw(st.lists(st.sampled_from(["id", "thread_id", "text", "posted_at"]), max_size=2)):
        obj.pop(name, None)
    if draw(st.integers(0, 9)) == 0:
        obj["metadata"] = draw(JSONISH)
    if draw(st.integers(0, 9)) == 0:
        obj["thread_published_at"] = draw(TIMES)
    return obj


def _json(obj: Any) -> bytes:
    """JSON as any producer might write it: the standard library's, which writes integers of any
    size and NaN and Infinity literals (orjson refuses both)."""
    return json.dumps(obj, ensure_ascii=False).encode()


def _nested(depth: int) -> bytes:
    return (
        b'{"id": "deep", "thread_id": "t", "text": "x", "posted_at": "2026-11-30T10:00:00Z", "metadata": '
        + (b'{"a": ' * depth)
        + b"1"
        + b"}" * depth
        + b"}"
    )


@st.composite
def message(draw: Any) -> Message:
    kind = draw(st.integers(0, 99))
    if kind < 45:
        value: bytes | None = _json(draw(comment_like()))
    elif kind < 55:  # truncated JSON
        whole = _json(draw(comment_like()))
        value = whole[: draw(st.integers(0, max(0, len(whole) - 1)))]
    elif kind < 62:  # not an object
        value = _json(draw(JSONISH.filter(lambda v: not isinstance(v, dict))))
    elif kind < 70:  # bytes that are not UTF-8 or not JSON at all
        value = draw(st.binary(max_size=200))
    elif kind < 74:  # NaN / Infinity literals, which JSON does not have
        value = (
            b'{"id": "n", "thread_id": "t", "text": "x", "posted_at": "2026-11-30T10:00:00Z", "score": '
            + draw(st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e999"]))
            + b"}"
        )
    elif kind < 77:
        value = _nested(draw(st.sampled_from([300, 2000])))
    elif kind < 79:  # bigger than the event limit (but within the broker's)
        value = _json(
            {
                "id": "big",
                "thread_id": "t",
                "text": "y" * (MAX_EVENT_BYTES + 10),
                "posted_at": "2026-11-30T10:00:00Z",
            }
        )
    elif kind < 81:
        value = None  # a tombstone
    elif kind < 83:
        value = b""
    else:  # valid comments, with odd text
        value = _json(
            {"id": draw(st.text(min_size=1, max_size=20)), "thread_id": "t", "text": draw(VALID_TEXTS),
             "posted_at": "2026-11-30T10:00:00Z"}
        )  # fmt: skip
    key = draw(st.one_of(st.none(), st.just(b""), st.binary(max_size=30), st.just(b"k" * 10_000)))
    if key is None and value is None:
        key = b"tombstone"  # Kafka needs one of them
    headers = draw(st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=50)), max_size=3))
    return key, value, headers


def _send(bootstrap: str, topic: str, batches: multiprocessing.Queue[list[Message] | None]) -> None:
    """Sends the batches as they come, until None (a process of its own: aiokafka draws from the
    random module, which Hypothesis forbids while it generates in the same process)."""

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_request_size=1_048_000)
        await producer.start()
        try:
            futures = []
            while (batch := await asyncio.to_thread(batches.get)) is not None:
                for key, value, headers in batch:
                    futures.append(await producer.send(topic, value, key=key, headers=headers))
            for fut in futures:
                await fut
        finally:
            await producer.stop()

    asyncio.run(send())


def test_every_generated_message_ends_as_a_verdict_or_a_dead_letter(
    kafka: Any, unique_name: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    topics = prefixed_topics(unique_name)
    cfg = load_settings({}, brokers=kafka.bootstrap, partitions=2, topics=topics)
    asyncio.run(ensure_topics(cfg))
    worker = start_worker(kafka.bootstrap, unique_name, partitions=2, topics=topics, store="rocksdb://")
    sent: list[Message] = []

    @settings(
        max_examples=max(1, MESSAGES // BATCH),
        phases=[Phase.generate],  # no shrinking: every example is sent, the audit judges them all
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(batch=st.lists(message(), min_size=BATCH, max_size=BATCH))
    def generate(batch: list[Message]) -> None:
        sent.extend(batch)
        batches.put(batch)

    # The worker judges the first messages while the rest are generated (each takes about as long).
    spawn = multiprocessing.get_context("spawn")
    batches: multiprocessing.Queue[list[Message] | None] = spawn.Queue()
    sender = spawn.Process(target=_send, args=(kafka.bootstrap, topics.comments, batches), daemon=True)
    sender.start()
    try:
        generate()
    finally:
        batches.put(None)
        sender.join(timeout=300)
    assert sender.exitcode == 0, f"the sender exited with {sender.exitcode}"
    assert len(sent) >= MESSAGES
    report, took = audit_until_complete(cfg, timeout=600)
    print(f"\n{len(sent)} messages thrown; accounted for {took:.0f} s after the last\n{report.render()}")
    worker.assert_alive()
    assert report.ok and report.records == len(sent), report.render() + worker.log()
    assert set(report.dead_letter_reasons) <= set(DEAD_LETTER_REASONS), report.dead_letter_reasons
    assert report.judged > len(sent) // 10 and report.dead_lettered > len(sent) // 10  # both paths taken
    errors = [
        line for line in worker.metrics_text().splitlines() if line.startswith("streamproc_errors_total{")
    ]
    assert worker.metric("streamproc_errors_total") == 0, (
        f"valid input made a stage fail: {errors}\n{worker.log()}"
    )
