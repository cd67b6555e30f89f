"""A real Prometheus (Debian's package) for tests: started on the project's deploy/ configuration
pointed at the test's workers, queried through its HTTP API, stopped at the end."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from streamproc.broker.process import free_port, stop_process, tail
from tests.ops.support import PROMETHEUS_DIR, tool

WORKER_JOB = "streamproc"  # the job the alerts and panels select on
_DURATION = re.compile(r"(\d+)([smhd])\b")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def query(url: str, expr: str, at: float | None = None) -> dict[str, Any]:
    """Instant query; the whole API response (status, data or error)."""
    params = urllib.parse.urlencode({"query": expr, "time": time.time() if at is None else at})
    try:
        with urllib.request.urlopen(f"{url}/api/v1/query?{params}", timeout=10) as resp:
            return dict(json.loads(resp.read()))
    except urllib.error.HTTPError as exc:  # 400 for a bad expression, with the reason in the body
        return dict(json.loads(exc.read()))


def wait_until(what: str, check: Any, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout:.0f} s; Prometheus log:\n{tail(log, 30)}")


def worker_config(targets: dict[str, int], extra_jobs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with 1 s scrapes and evaluations, the workers (service
    label -> /metrics port) as static targets instead of compose DNS, rule files by absolute path."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(PROMETHEUS_DIR / name) for name in config["rule_files"]]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert WORKER_JOB in jobs, f"prometheus.yml has no {WORKER_JOB!r} job: {sorted(jobs)}"
    worker_job = copy.deepcopy(jobs[WORKER_JOB])
    worker_job.pop("dns_sd_configs", None)
    worker_job.pop("relabel_configs", None)  # it sets `service` from compose DNS; set here instead
    worker_job["static_configs"] = [
        {"targets": [f"127.0.0.1:{port}"], "labels": {"service": service}}
        for service, port in targets.items()
    ]
    config["scrape_configs"] = [worker_job, *(extra_jobs or [])]
    return dict(config)


def scaled_rules(text: str, factor: float) -> str:
    """Alert rules with every duration (`for:` and range selectors) divided by `factor`: the same
    expressions and thresholds, a shorter clock, so a test can see them fire in minutes."""

    def scale(m: re.Match[str]) -> str:
        return f"{max(1, round(int(m.group(1)) * _SECONDS[m.group(2)] / factor))}s"

    out = []
    for line in text.splitlines():
        if line.strip().startswith("for:") or "[" in line:
            line = _DURATION.sub(scale, line) if "{{" not in line else line
        out.append(line)
    return "\n".join(out) + "\n"


@contextmanager
def running_prometheus(config: dict[str, Any], workdir: Path) -> Iterator[tuple[str, Path]]:
    """Prometheus on a free port with `config`; yields (its URL, its log) once it is ready."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    url = f"http://127.0.0.1:{free_port()}"
    log = workdir / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                tool("prometheus"),
                f"--config.file={path}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address={url.removeprefix('http://')}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        wait_until("Prometheus ready", lambda: urllib.request.urlopen(f"{url}/-/ready", timeout=2), 30, log)
        yield url, log
    finally:
        stop_process(proc)
