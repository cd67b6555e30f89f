"""What the ops tests share: the deploy/ files, the Prometheus tools, and PromQL taken apart."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
GRAFANA_DIR = DEPLOY / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "streamproc.json"

_COMPARISON = re.compile(r"==|!=|>=|<=|>|<")
_SET_OPERATOR = re.compile(r"\b(and|or|unless)\b")
_NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")
_LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_ANNOTATION_LABEL = re.compile(r"\$labels\.(\w+)")


def tool(name: str) -> str:
    """Path of a Prometheus binary; fails (not skips) when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not on PATH: install Debian's prometheus package "
            "(apt-get install -y prometheus), as .ci/run does"
        )
    return path


@dataclass(frozen=True, slots=True)
class Query:
    """A PromQL expression used by the dashboard or an alert, and the labels it must carry."""

    where: str  # "panel <title>" or "alert <name>"
    expr: str
    labels: frozenset[str]  # labels its legend or annotations display


def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def dashboard_queries() -> list[Query]:
    out = []
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            labels = frozenset(_LEGEND_LABEL.findall(target.get("legendFormat", "")))
            out.append(Query(f"panel {panel['title']!r}", target["expr"], labels))
    return out


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def alert_queries() -> list[Query]:
    out = []
    for rule in alert_rules():
        text = " ".join(str(v) for v in rule.get("annotations", {}).values())
        out.append(Query(f"alert {rule['alert']}", rule["expr"], frozenset(_ANNOTATION_LABEL.findall(text))))
    return out


def _top_level_spans(expr: str) -> list[tuple[int, int]]:
    """Spans of `expr` outside any (), [], {} or string, where operators can split it."""
    spans, depth, start, quote = [], 0, 0, ""
    for i, ch in enumerate(expr):
        if quote:
            quote = "" if ch == quote and expr[i - 1] != "\\" else quote
            continue
        if ch in "\"'`":
            quote = ch
        elif ch in "([{":
            if depth == 0:
                spans.append((start, i))
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                start = i + 1
    spans.append((start, len(expr)))
    return spans


def operands(expr: str) -> list[str]:
    """The non-constant operands of the top-level comparisons and set operators of `expr`.

    `a > 0 unless b > 0` -> [a, b]: what an alert compares, so that a test can check those series
    exist (with their labels) even while the alert condition itself is rightly false.
    """
    cuts: list[tuple[int, int]] = []
    for lo, hi in _top_level_spans(expr):
        segment = expr[lo:hi]
        for pattern in (_SET_OPERATOR, _COMPARISON):
            cuts.extend((lo + m.start(), lo + m.end()) for m in pattern.finditer(segment))
    cuts.sort()
    parts, pos = [], 0
    for a, b in cuts:
        if a < pos:  # ">=" also matched ">"
            continue
        parts.append(expr[pos:a])
        pos = b
    parts.append(expr[pos:])
    return [p.strip() for p in parts if p.strip() and not _NUMBER.match(p)]


def assert_promtool_accepts(text: str) -> None:
    """`promtool check metrics` on an exposition: it must exit 0 and print nothing."""
    result = subprocess.run(
        [tool("promtool"), "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), (
        result.stdout + result.stderr
    )
