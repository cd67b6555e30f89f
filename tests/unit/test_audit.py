"""The audit's reconciliation: comment records against verdicts and dead letters (no broker)."""

from __future__ import annotations

import orjson
import pytest

from streamproc.audit import Ledger, comment_id_of, percentile
from streamproc.cli import parse_when
from streamproc.errors import ConfigError

NOW = 10_000.0


def _comment(cid: str) -> bytes:
    return orjson.dumps({"id": cid, "thread_id": "t", "text": "hi", "posted_at": "2026-11-30T10:00:00Z"})


def _verdict(cid: str) -> bytes:
    return orjson.dumps({"comment_id": cid, "stage": "decide", "action": "approve"})


def _dead(
    partition: int, offset: int, topic: str = "comments", reason: str = "invalid_json"
) -> dict[str, bytes]:
    return {
        "streamproc-source-topic": topic.encode(),
        "streamproc-source-partition": str(partition).encode(),
        "streamproc-source-offset": str(offset).encode(),
        "streamproc-error-reason": reason.encode(),
    }


def test_every_record_is_judged_dead_lettered_pending_or_missing() -> None:
    ledger = Ledger("comments")
    ledger.comment(0, 0, 100.0, _comment("a"))  # judged
    ledger.comment(0, 1, 100.0, b"{broken")  # dead-lettered
    ledger.comment(1, 0, 100.0, _comment("b"))  # missing: old, nothing for it
    ledger.comment(1, 1, NOW - 5, _comment("c"))  # pending: younger than the grace period
    ledger.verdict(_verdict("a"), 101.5)
    ledger.dead_letter(_dead(0, 1))
    report = ledger.report(NOW, grace=60)
    assert (report.records, report.judged, report.dead_lettered, report.pending) == (4, 1, 1, 1)
    assert [(m.comment_id, m.partition, m.offset) for m in report.missing] == [("b", 1, 0)]
    assert report.dead_letter_reasons == {"invalid_json": 1}
    assert report.latency["p50"] == pytest.approx(1.5)
    assert not report.ok
    text = report.render()
    assert "missing b partition=1 offset=0" in text and "FAILED" in text


def test_a_dead_letter_from_a_later_stage_does_not_account_for_a_comment() -> None:
    ledger = Ledger("comments")
    ledger.comment(0, 7, 100.0, _comment("a"))
    ledger.dead_letter(_dead(0, 7, topic="verdicts.links"))  # same partition and offset, other topic
    assert [m.comment_id for m in ledger.report(NOW).missing] == ["a"]


def test_judged_twice_counts_verdicts_beyond_one_per_record() -> None:
    ledger = Ledger("comments")
    ledger.comment(0, 0, 100.0, _comment("a"))
    ledger.comment(0, 1, 100.0, _comment("b"))
    ledger.comment(0, 2, 100.0, _comment("b"))  # the producer sent b twice: two verdicts are due
    for cid, at in (("a", 101.0), ("a", 140.0), ("b", 102.0), ("b", 103.0)):
        ledger.verdict(_verdict(cid), at)
    report = ledger.report(NOW)
    assert report.ok and report.judged == 3 and report.distinct_ids == 2
    assert (report.judged_twice, report.extra_verdicts) == (1, 1)
    assert report.latency["max"] == pytest.approx(2.0)  # the first verdict counts, not the re-delivery


def test_everything_accounted_for_is_ok() -> None:
    ledger = Ledger("comments")
    for i in range(100):
        ledger.comment(i % 4, i // 4, 100.0 + i, _comment(f"c{i}"))
        ledger.verdict(_verdict(f"c{i}"), 100.0 + i + i / 100)
    report = ledger.report(NOW)
    assert report.ok and report.judged == 100 and not report.missing
    assert report.latency["p99"] == pytest.approx(0.98)  # nearest rank: the 99th of 100
    assert report.to_dict()["missing"] == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (_comment("x"), "x"),
        (b"{broken", None),
        (b"[1]", None),
        (b'{"id": 5}', None),
        (b'{"id": ""}', None),
        (None, None),
    ],
)
def test_comment_id_of(value: bytes | None, expected: str | None) -> None:
    assert comment_id_of(value) == expected


def test_percentile_nearest_rank() -> None:
    values = [float(i) for i in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile([], 0.5)) == (50.0, 99.0, None)


def test_parse_when_accepts_times_and_durations() -> None:
    assert parse_when("15m", NOW) == NOW - 900
    assert parse_when("2h", NOW) == NOW - 7200
    assert parse_when("1970-01-01T00:00:10Z", NOW) == 10.0
    with pytest.raises(ConfigError, match="neither an RFC 3339 time"):
        parse_when("yesterday", NOW)
