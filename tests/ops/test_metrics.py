"""The worker's metric definitions: conventions promtool accepts, process metrics on the worker's
own registry, and every dead-letter reason in the code known to init_stage."""

from __future__ import annotations

import re

from prometheus_client import generate_latest

from streamproc.metrics import DEAD_LETTER_REASONS, Metrics
from tests.ops.support import REPO, assert_promtool_accepts


def test_exposition_passes_promtool_and_has_process_metrics() -> None:
    metrics = Metrics()
    metrics.init_stage("links")
    metrics.verdicts.labels("links", "clean").inc()
    metrics.actions.labels("approve").inc()
    metrics.end_to_end.observe(0.2)
    metrics.set_lag({("comments", 0): 3})
    text = generate_latest(metrics.registry).decode()
    assert_promtool_accepts(text)
    for line in (
        'streamproc_comments_consumed_total{stage="links"} 0.0',
        'streamproc_dead_letters_total{reason="invalid_json",stage="links"} 0.0',
        'streamproc_consumer_lag{partition="0",topic="comments"} 3.0',
        "streamproc_end_to_end_seconds_count 1.0",
    ):
        assert line in text.splitlines(), line
    assert "# TYPE process_cpu_seconds_total counter" in text
    assert "# TYPE process_resident_memory_bytes gauge" in text
    assert "_created" not in text


def test_every_dead_letter_reason_in_the_code_is_initialised() -> None:
    source = "\n".join(p.read_text() for p in (REPO / "streamproc").rglob("*.py"))
    reasons = set(re.findall(r'DecodeError\(\s*"([a-z_]+)"', source))
    reasons |= set(re.findall(r'dead_letter\([^)]*?"([a-z_]+)"', source))
    assert reasons, "no DecodeError reasons found: has the code moved?"
    assert reasons <= set(DEAD_LETTER_REASONS), sorted(reasons - set(DEAD_LETTER_REASONS))
