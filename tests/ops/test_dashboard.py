"""The Grafana dashboard's shape: panels fit the grid without overlapping, use the provisioned
datasource, and cover what ops must see (the live test checks that their queries return data)."""

from __future__ import annotations

import re

from tests.ops.support import dashboard, dashboard_queries

REQUIRED = {
    "streamproc_comments_consumed_total": "throughput per stage",
    "streamproc_verdicts_total": "verdict mix",
    "streamproc_actions_total": "action mix",
    "streamproc_end_to_end_seconds_bucket": "p50/p99 latency",
    "streamproc_stage_duration_seconds_bucket": "stage processing time",
    "streamproc_consumer_lag": "lag",
    "streamproc_group_lag": "lag of whole stage groups",
    "streamproc_stalled": "stalled workers",
    "streamproc_dead_letters_total": "dead letters",
    "streamproc_errors_total": "errors",
    "streamproc_duplicate_index_comments": "state size",
    "streamproc_model_version": "model version",
    "process_cpu_seconds_total": "CPU",
    "process_resident_memory_bytes": "memory",
}


def test_panels_fit_the_grid_without_overlap() -> None:
    taken: dict[tuple[int, int], str] = {}
    for panel in dashboard()["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in taken, f"{panel['title']} overlaps {taken[(x, y)]}"
                taken[(x, y)] = panel["title"]


def test_panels_use_the_provisioned_datasource_and_known_variables() -> None:
    doc = dashboard()
    assert doc["uid"] == "streamproc"
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    for panel in doc["panels"]:
        assert panel["type"] in ("timeseries", "stat"), panel["title"]
        assert panel["description"], panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": "prometheus"}, panel["title"]
            assert set(re.findall(r"\$\w+", target["expr"])) <= {"$__rate_interval"}, target["expr"]


def test_dashboard_shows_what_ops_must_see() -> None:
    exprs = " ".join(q.expr for q in dashboard_queries())
    missing = {metric: why for metric, why in REQUIRED.items() if not re.search(rf"\b{metric}\b", exprs)}
    assert not missing, missing
    assert "histogram_quantile(0.5," in exprs and "histogram_quantile(0.99," in exprs
