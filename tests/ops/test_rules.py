"""The Prometheus config and alert rules pass promtool, every alert has a summary, a runbook and a
unit test, and the PromQL splitter the live test relies on does what it says."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.ops.support import PROMETHEUS_DIR, alert_rules, operands, tool


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=120
    )


def test_promtool_check_config() -> None:
    result = _promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_rules() -> None:
    result = _promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules() -> None:
    result = _promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_summary_runbook_and_a_firing_unit_test() -> None:
    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    quiet = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if not case.get("exp_alerts")
    }
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names))
    for rule in alert_rules():
        annotations = rule.get("annotations", {})
        assert annotations.get("summary"), rule["alert"]
        assert annotations.get("runbook"), rule["alert"]
        assert rule.get("labels", {}).get("severity") in ("warning", "critical"), rule["alert"]
        assert rule["alert"] in fired, f"{rule['alert']} has no unit test where it fires"
        assert rule["alert"] in quiet, f"{rule['alert']} has no unit test where it stays quiet"


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('up{job="a"} == 0', ['up{job="a"}']),
        ("sum(rate(a[5m])) > 0 unless sum(rate(b[5m])) > 0", ["sum(rate(a[5m]))", "sum(rate(b[5m]))"]),
        ('sum by (x) (a{l=">"}) >= 1e3 and b', ['sum by (x) (a{l=">"})', "b"]),
        ("(a / b) > 2 * (c / d)", ["(a / b)", "2 * (c / d)"]),
        (
            "histogram_quantile(0.99, sum by (le) (rate(h[5m])))",
            ["histogram_quantile(0.99, sum by (le) (rate(h[5m])))"],
        ),
        ("a != -1", ["a"]),
    ],
)
def test_operands(expr: str, expected: list[str]) -> None:
    assert operands(expr) == expected


def test_operations_doc_lists_every_alert_runbook_and_metric() -> None:
    from prometheus_client import generate_latest

    from streamproc.metrics import Metrics
    from tests.ops.support import REPO

    doc = " ".join((REPO / "docs" / "operations.md").read_text().split())
    for rule in alert_rules():
        assert f"### {rule['alert']}" in doc, rule["alert"]
        assert " ".join(rule["annotations"]["runbook"].split()) in doc, f"runbook of {rule['alert']}"
    exposed = generate_latest(Metrics().registry).decode()
    for family in set(re.findall(r"^# TYPE (streamproc_\w+) ", exposed, re.M)):
        assert f"`{family}`" in doc, f"{family} is not documented"
