"""Render deploy/grafana/dashboards/streamproc.json to a PNG from a real Prometheus, with matplotlib.

Each panel's PromQL is run as a range query against the given Prometheus and drawn where the
dashboard places it (24-column grid): time series as lines, stat panels as their last value. It
is how docs/dashboard.png is made from a test run (tests/ops/test_prometheus.py, with
STREAMPROC_DASHBOARD_PNG=docs/dashboard.png), and works against the compose stack too:

    python deploy/grafana/render_dashboard.py --prometheus http://localhost:9090 --minutes 30 \\
        --out dashboard.png
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DASHBOARD = Path(__file__).parent / "dashboards" / "streamproc.json"
GRID_COLUMNS = 24  # Grafana's grid width
LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass(frozen=True, slots=True)
class Target:
    expr: str
    legend: str


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    kind: str  # "timeseries" or "stat"
    unit: str
    x: int
    y: int
    w: int
    h: int
    targets: tuple[Target, ...]


def load_panels(path: Path = DASHBOARD) -> list[Panel]:
    """The panels of a Grafana dashboard JSON file, in grid order."""
    doc = json.loads(path.read_text())
    panels = []
    for p in doc["panels"]:
        grid = p["gridPos"]
        targets = tuple(Target(t["expr"], t.get("legendFormat", "")) for t in p.get("targets", []))
        unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
        panels.append(Panel(p["title"], p["type"], unit, grid["x"], grid["y"], grid["w"], grid["h"], targets))
    return sorted(panels, key=lambda p: (p.y, p.x))


def with_interval(expr: str, rate_interval: str) -> str:
    """Replace Grafana's $__rate_interval; any other dashboard variable is an error."""
    out = expr.replace("$__rate_interval", rate_interval)
    if "$" in out:
        raise ValueError(f"unsupported dashboard variable in {expr!r}")
    return out


def legend(fmt: str, labels: dict[str, str]) -> str:
    """Grafana's legendFormat: {{label}} replaced by the series' label value."""
    if not fmt:
        return "{" + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) + "}"
    return LEGEND_LABEL.sub(lambda m: labels.get(m.group(1), ""), fmt).strip()


def query_range(prometheus: str, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
    """Run a PromQL range query; the result's series (metric labels and [time, value] pairs)."""
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    with urllib.request.urlopen(f"{prometheus}/api/v1/query_range?{params}", timeout=30) as resp:
        body = json.loads(resp.read())
    if body.get("status") != "success":
        raise RuntimeError(f"query failed: {expr}: {body.get('error')}")
    return list(body["data"]["result"])


def format_value(value: float, unit: str) -> str:
    if math.isnan(value):
        return "-"
    if unit == "percentunit":
        return f"{value * 100:.1f}%"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"
    if unit == "bytes":
        return f"{value / 2**20:.0f} MiB"
    if unit == "reqps":
        return f"{value:.1f}/s" if abs(value) >= 1 or value == 0 else f"{value:.2g}/s"
    return f"{value:g}"


def render(
    prometheus: str,
    start: float,
    end: float,
    out: Path,
    *,
    dashboard: Path = DASHBOARD,
    rate_interval: str = "1m",
    step: float | None = None,
) -> int:
    """Draw every panel from `start` to `end` (epoch seconds) into `out`. Returns the number of
    series drawn."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    panels = load_panels(dashboard)
    step = step or max(1.0, (end - start) / 200)
    rows = max(p.y + p.h for p in panels)
    fig = plt.figure(figsize=(20, rows * 0.45 + 0.6), dpi=80)
    header = 0.6 / (rows * 0.45 + 0.6)  # figure fraction kept for the title line
    fig.text(
        0.01,
        1 - header / 2,
        f"streamproc  ·  {datetime.fromtimestamp(start, UTC):%Y-%m-%d %H:%M:%S} to "
        f"{datetime.fromtimestamp(end, UTC):%H:%M:%S} UTC",
        fontsize=13,
        va="center",
    )

    def place(panel: Panel) -> list[float]:
        """Axes rectangle [left, bottom, width, height] of a panel, leaving room for its title
        above and its tick labels below and left."""
        row = (1 - header) / rows
        left = panel.x / GRID_COLUMNS + 0.035
        top = 1 - header - panel.y * row - 0.028
        bottom = 1 - header - (panel.y + panel.h) * row + (0.005 if panel.kind == "stat" else 0.03)
        return [left, bottom, panel.w / GRID_COLUMNS - 0.045, top - bottom]

    drawn = 0
    for panel in panels:
        ax = fig.add_axes(place(panel))
        ax.set_title(panel.title, fontsize=10, loc="left")
        series = []
        for target in panel.targets:
            for s in query_range(prometheus, with_interval(target.expr, rate_interval), start, end, step):
                points = [(float(t), float(v)) for t, v in s["values"]]
                series.append((legend(target.legend, s["metric"]), points))
        drawn += len(series)
        if panel.kind == "stat":
            ax.axis("off")
            last = [p[-1][1] for _, p in series if p and not math.isnan(p[-1][1])]
            text = format_value(sum(last), panel.unit) if last else "no data"
            ax.text(0.5, 0.35, text, ha="center", va="center", fontsize=22, transform=ax.transAxes)
            continue
        for name, points in series:
            xs = [datetime.fromtimestamp(t, UTC) for t, _ in points]
            ax.plot(xs, [v for _, v in points], label=name, linewidth=1.2)
        if not series:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="grey")
        ax.set_xlim(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
        ax.tick_params(labelsize=7)
        ax.yaxis.set_major_formatter(lambda v, _pos, unit=panel.unit: format_value(v, unit))
        ax.grid(alpha=0.3)
        if series:
            ax.legend(fontsize=6, loc="upper left", ncol=2, framealpha=0.6)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return drawn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prometheus", default="http://localhost:9090", help="Prometheus base URL")
    parser.add_argument("--minutes", type=float, default=30.0, help="time range ending now")
    parser.add_argument("--rate-interval", default="1m", help="value of $__rate_interval")
    parser.add_argument("--out", type=Path, default=Path("dashboard.png"))
    args = parser.parse_args(argv)
    end = time.time()
    drawn = render(
        args.prometheus.rstrip("/"), end - args.minutes * 60, end, args.out, rate_interval=args.rate_interval
    )
    print(f"{args.out}: {drawn} series")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
