"""A stage group down: with the stages split over two groups, the back group (spam, decide) is
stopped while comments keep coming; they wait in Kafka, the lag and no-verdicts alerts fire in a
real Prometheus scraping the workers, and once the group is started again every comment gets its
verdict (audit: 0 missing).

The alert rules are deploy/prometheus/alerts.yml with every duration divided by
STREAMPROC_FAULT_ALERT_SCALE (60 in CI: `for: 15m` becomes 15 s, `[5m]` becomes `[5s]`; the
expressions and thresholds are unchanged), and the workers read the groups' lag every 15 s divided
by the same (at least every second), so the outage lasts under a minute, not a quarter of an hour.
By hand, STREAMPROC_FAULT_ALERT_SCALE=1 runs it at the production clock.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from streamproc.clients import ensure_topics
from streamproc.config import load_settings
from tests.ops.support import PROMETHEUS_DIR
from tests.support.faults import Feeder, audit_until_complete, mixed_stream
from tests.support.prometheus import query, running_prometheus, scaled_rules, worker_config
from tests.support.workers import WorkerProcess, prefixed_topics

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

SCALE = float(os.environ.get("STREAMPROC_FAULT_ALERT_SCALE", "60"))
RATE = 100.0  # comments/s: the backlog passes the lag alert's 1,000 messages in 10 s
BEFORE_STOP = 10.0  # seconds of comments judged by both groups before the back one stops
LAG_ALERT = 1000  # StreamprocConsumerLagGrowing's threshold (messages)
ALERTS = ("StreamprocNoVerdicts", "StreamprocConsumerLagGrowing")


def _firing(url: str) -> set[str]:
    result = query(url, 'ALERTS{alertstate="firing"}')["data"]["result"]
    return {s["metric"]["alertname"] for s in result}


def test_a_stopped_stage_group_catches_up_and_the_alerts_fire_meanwhile(
    kafka: Any, unique_name: str, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    topics = prefixed_topics(unique_name)
    settings = load_settings({}, brokers=kafka.bootstrap, partitions=2, topics=topics)
    asyncio.run(ensure_topics(settings))
    env = {"STREAMPROC_GROUP_LAG_SECONDS": str(max(1.0, 15 / SCALE))}  # the lag gauge on the same clock
    front, back = (
        start_worker(kafka.bootstrap, unique_name, stages=stages, topics=topics, name=name, extra_env=env)
        for stages, name in (("links,duplicates", "front"), ("spam,decide", "back"))
    )
    rules = tmp_path / "alerts.yml"
    rules.write_text(scaled_rules((PROMETHEUS_DIR / "alerts.yml").read_text(), SCALE))
    config = worker_config({"links-duplicates": front.metrics_port, "spam-decide": back.metrics_port})
    config["rule_files"] = [str(rules)]
    lag_for = 15 * 60 / SCALE  # the lag alert's `for`
    outage = max(180.0, lag_for + 60)
    # Comments keep coming until both alerts fire (the lag alert needs a growing backlog), then
    # stop: enough for the backlog's growth past the threshold, the alert's `for`, the lag gauge's
    # period and scrapes, with a margin.
    events = mixed_stream(int(RATE * BEFORE_STOP + LAG_ALERT + RATE * (lag_for + 60)), 0, prefix="g-")
    with running_prometheus(config, tmp_path / "prometheus") as (url, _log):
        feeder = Feeder(settings, events, RATE).start()
        feeder.wait_sent(int(RATE * BEFORE_STOP), timeout=120)
        back.stop()  # SIGTERM: the whole spam,decide group is down
        stopped = time.monotonic()
        fired: dict[str, float] = {}
        while time.monotonic() - stopped < outage and len(fired) < len(ALERTS):
            for name in _firing(url) & set(ALERTS):
                fired.setdefault(name, time.monotonic() - stopped)
            time.sleep(2)
        feeder.stop()  # what was sent is the backlog the back group must catch up on
        lag = query(url, f'max by (group) (streamproc_group_lag{{group="{unique_name}-spam-decide"}})')
        print(
            f"\nback group down for {time.monotonic() - stopped:.0f} s; alerts fired after {fired}; lag {lag['data']['result']}"
        )
        assert set(fired) == set(ALERTS), f"fired: {fired}; firing now: {_firing(url)}"
        back.start()  # the same group, back again
        report, took = audit_until_complete(settings, timeout=300)
        print(f"{report.render()}\ncaught up {took:.0f} s after the restart ({feeder.sent} comments sent)")
        assert report.ok, report.render() + front.log() + back.log()
        front.assert_alive()
