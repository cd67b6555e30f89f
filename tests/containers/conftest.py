"""Fixtures for the container tests: one Docker engine and one project image per session, and
containers that are removed at the end of each test whatever happens.

No engine, no pass: when the engine cannot be installed or started, every test here errors with
the reason (nothing is skipped).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.containers.engine import LABEL, Engine, EngineError
from tests.containers.images import ProjectImage, Timings, base_image, build_project

PROJECT_TAG = "streamproc:test"
COMPOSE_TAG = "streamproc:local"  # the image docker-compose.yml names for the worker services

_timings = Timings()


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    started = time.monotonic()
    docker = Engine()
    problem = ""
    try:
        docker.start()
    except EngineError as exc:
        docker.stop()
        problem = str(exc)
    if problem:
        pytest.fail(f"no Docker engine for the container tests: {problem}", pytrace=False)
    _timings.extra["engine start"] = time.monotonic() - started
    try:
        yield docker
    finally:
        docker.stop()


@pytest.fixture(scope="session")
def timings() -> Timings:
    return _timings


@pytest.fixture(scope="session")
def project_image(engine: Engine, timings: Timings) -> ProjectImage:
    """The repository's Dockerfile, unchanged, built on the Debian stand-in base."""
    try:
        base = base_image(engine, timings)
        image = build_project(engine, base, PROJECT_TAG, timings)
    except EngineError as exc:
        problem = str(exc)
    else:
        problem = ""
    if problem:
        pytest.fail(f"the project image did not build: {problem}", pytrace=False)
    engine.docker("tag", PROJECT_TAG, COMPOSE_TAG)
    return image


@dataclass
class Container:
    """A container started by a test (detached, host network)."""

    engine: Engine
    name: str

    def inspect(self) -> dict[str, Any]:
        return dict(json.loads(self.engine.docker("inspect", self.name).stdout)[0])

    def logs(self) -> str:
        done = self.engine.docker("logs", "--tail", "80", self.name, check=False)
        return done.stdout + done.stderr

    def state(self) -> dict[str, Any]:
        return dict(self.inspect()["State"])

    def assert_running(self) -> None:
        state = self.state()
        if not state["Running"]:
            raise AssertionError(f"{self.name} is not running (exit {state['ExitCode']}):\n{self.logs()}")

    def wait_healthy(self, timeout: float) -> dict[str, Any]:
        """Wait for the image's HEALTHCHECK to report healthy; returns the health record."""
        deadline = time.monotonic() + timeout
        while True:
            self.assert_running()
            health = self.state().get("Health") or {}
            if health.get("Status") == "healthy":
                return dict(health)
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name} not healthy after {timeout:.0f} s: {health}\n{self.logs()}"
                )
            time.sleep(1)

    def stop(self, grace: float) -> tuple[int, float]:
        """`docker stop -t grace`: the exit code and how long it took."""
        started = time.monotonic()
        self.engine.docker("stop", "-t", str(int(grace)), self.name, timeout=grace + 30)
        took = time.monotonic() - started
        return int(self.state()["ExitCode"]), took


@pytest.fixture
def run_container(engine: Engine, unique_name: str) -> Iterator[Callable[..., Container]]:
    """Start containers of an image on the host network; all are removed at the end of the test,
    and their logs are printed if the test failed."""
    started: list[Container] = []

    def run(
        image: str, *args: str, env: dict[str, str] | None = None, volumes: list[str] | None = None
    ) -> Container:
        name = f"{unique_name[:40]}-{len(started)}"
        options = [f"--label={LABEL}", "--network=host", f"--name={name}"]
        options += [f"--env={k}={v}" for k, v in (env or {}).items()]
        options += [f"--volume={v}" for v in volumes or []]
        engine.docker("run", "--detach", *options, image, *args)
        container = Container(engine, name)
        started.append(container)
        return container

    yield run
    for container in started:
        print(f"--- {container.name} ---\n{container.logs()}")  # shown by pytest when the test failed
        engine.docker("rm", "--force", "--volumes", container.name, check=False)


@pytest.fixture
def volume(engine: Engine, unique_name: str) -> Iterator[str]:
    """A named volume, removed at the end of the test."""
    name = f"{unique_name[:50]}-data"
    engine.docker("volume", "create", f"--label={LABEL}", name)
    yield name
    engine.docker("volume", "rm", "--force", name, check=False)


def http_get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()


@dataclass
class Audit:
    """`streamproc audit --grace 0 --json`, run from the project image."""

    engine: Engine
    image: str
    env: dict[str, str]
    runs: list[float] = field(default_factory=list)

    def once(self) -> tuple[int, dict[str, Any]]:
        options = [f"--env={k}={v}" for k, v in self.env.items()]
        started = time.monotonic()
        done = self.engine.docker(
            "run", "--rm", "--network=host", f"--label={LABEL}", *options, self.image,
            "audit", "--grace", "0", "--json", check=False,
        )  # fmt: skip
        self.runs.append(time.monotonic() - started)
        if done.returncode not in (0, 1):
            raise AssertionError(f"streamproc audit failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done.returncode, json.loads(done.stdout)

    def wait(self, timeout: float) -> tuple[int, dict[str, Any]]:
        """Audit until no comment is missing (exit 0) or `timeout` passes; the last result."""
        deadline = time.monotonic() + timeout
        while True:
            code, report = self.once()
            if code == 0 or time.monotonic() > deadline:
                return code, report
            time.sleep(2)

    def until_complete(self, timeout: float) -> dict[str, Any]:
        """Audit until no comment is missing; the report, asserted complete."""
        code, report = self.wait(timeout)
        assert code == 0 and report["missing"] == 0, f"comments missing after {timeout:.0f} s: {report}"
        return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The figures the issue asks for: build and bootstrap times of this session."""
    t = _timings
    if t.bootstrap is None and t.import_ is None and t.project is None and not t.extra:
        return

    def fmt(value: float | None) -> str:
        return "cached" if value is None else f"{value:.1f} s"

    extra = ", ".join(f"{k} {v:.1f} s" for k, v in t.extra.items())
    if t.image_bytes is not None:
        extra += f", image {t.image_bytes / 1e6:.0f} MB"
    terminalreporter.write_line(
        f"containers: base bootstrap {fmt(t.bootstrap)}, import {fmt(t.import_)}, "
        f"project image {fmt(t.project)}" + (f", {extra}" if extra else "")
    )
