"""Shared fixtures: real brokers (Apache Kafka and Tansu) and worker processes."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streamproc.broker.kafka import KafkaBroker
from streamproc.broker.tansu import Tansu
from tests.support.workers import WorkerProcess


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaBroker]:
    """One Apache Kafka (KRaft) broker for the session; tests use unique topics and groups."""
    with KafkaBroker() as broker:
        yield broker


@pytest.fixture(scope="session")
def tansu() -> Iterator[Tansu]:
    with Tansu() as broker:
        yield broker


@pytest.fixture(params=["kafka", "tansu"])
def broker(request: pytest.FixtureRequest) -> KafkaBroker | Tansu:
    """The test runs once on each broker."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A name for topics and groups that includes the test's name (and its parameters)."""
    name = request.node.name
    digest = hashlib.blake2b(name.encode(), digest_size=3).hexdigest()  # long names differ at the end
    return "t-" + re.sub(r"[^a-zA-Z0-9]+", "-", name).strip("-").lower()[:52] + "-" + digest


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start worker processes; all are stopped at the end of the test."""
    started: list[WorkerProcess] = []

    def start(bootstrap: str, app_id: str, **kwargs: object) -> WorkerProcess:
        worker = WorkerProcess(bootstrap, app_id, tmp_path, **kwargs)  # type: ignore[arg-type]
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()
