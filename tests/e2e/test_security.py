"""An authenticated Kafka: Apache Kafka with a SASL_SSL listener (SCRAM-SHA-256 and -512, a
certificate made in the test). The worker, `produce`, `tail` and `audit` connect with settings from
the environment and a password file; a wrong password is a clear error and a non-zero exit, not a
hang; and the password is printed nowhere."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from streamproc.broker.kafka import KafkaBroker, Listener
from streamproc.gen.demo import generate
from tests.support.tls import make_certificates
from tests.support.workers import WorkerProcess, prefixed_topics, topics_env

pytestmark = [pytest.mark.e2e]

USERS = {"SCRAM-SHA-256": ("worker", "w0rker-s3cret-256"), "SCRAM-SHA-512": ("site", "s1te-s3cret-512")}
JAAS = "org.apache.kafka.common.security.scram.ScramLoginModule required;"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KafkaBroker, Path]]:
    work = tmp_path_factory.mktemp("secured")
    certs = make_certificates(work / "certs")
    listener = Listener(
        "SASL_SSL",
        properties={
            "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": JAAS,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": JAAS,
            "listener.name.sasl_ssl.ssl.keystore.type": "PEM",
            "listener.name.sasl_ssl.ssl.keystore.location": str(certs.keystore),
        },
    )
    scram = [
        arg for mech, (user, password) in USERS.items() for arg in ("--add-scram", f"{mech}=[name={user},password={password}]")
    ]  # fmt: skip
    with KafkaBroker(workdir=work / "kafka", listeners=[listener], format_args=scram) as broker:
        yield broker, certs.ca


def _env(
    broker: KafkaBroker, ca: Path, mechanism: str, tmp_path: Path, password: str | None = None
) -> dict[str, str]:
    user, real = USERS[mechanism]
    secret = tmp_path / f"{user}.password"
    secret.write_text((password or real) + "\n")
    return {
        "STREAMPROC_BROKERS": f"127.0.0.1:{broker.listeners[0].port}",
        "STREAMPROC_SECURITY_PROTOCOL": "SASL_SSL",
        "STREAMPROC_SASL_MECHANISM": mechanism,
        "STREAMPROC_SASL_USERNAME": user,
        "STREAMPROC_SASL_PASSWORD_FILE": str(secret),
        "STREAMPROC_SSL_CAFILE": str(ca),
    }


def _cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamproc", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_worker_and_tools_connect_with_scram_over_tls(
    secured: tuple[KafkaBroker, Path], unique_name: str, tmp_path: Path
) -> None:
    broker, ca = secured
    topics = prefixed_topics(unique_name)
    site = {**_env(broker, ca, "SCRAM-SHA-512", tmp_path), **topics_env(topics)}
    worker_env = _env(broker, ca, "SCRAM-SHA-256", tmp_path)
    worker = WorkerProcess(
        worker_env["STREAMPROC_BROKERS"], unique_name, tmp_path, topics=topics, partitions=2,
        extra_env=worker_env, loglevel="info",
    )  # fmt: skip
    events = generate(60, seed=12).events
    path = tmp_path / "comments.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    try:
        worker.start()
        produced = _cli("produce", str(path), "--quiet", env=site)
        assert produced.returncode == 0, produced.stderr
        tailed = _cli("tail", "--from-beginning", "--max", "60", "--timeout", "120", "--json", env=site)
        assert tailed.returncode == 0, tailed.stderr
        assert sorted(orjson.loads(line)["comment_id"] for line in tailed.stdout.splitlines()) == sorted(
            e["id"] for e in events
        )
        audited = _cli("audit", "--grace", "0", env=site)
        assert audited.returncode == 0 and "OK: every comment is accounted for" in audited.stdout, (
            audited.stdout
        )
        worker.assert_alive()
    finally:
        worker.stop()
    everything = (
        worker.log_path.read_text() + produced.stderr + tailed.stderr + audited.stdout + audited.stderr
    )
    for _, password in USERS.values():
        assert password not in everything


@pytest.mark.parametrize("command", [["produce", "-"], ["tail", "--max", "1"], ["audit"], ["worker"]])
def test_a_wrong_password_is_a_clear_error_not_a_hang(
    secured: tuple[KafkaBroker, Path], unique_name: str, tmp_path: Path, command: list[str]
) -> None:
    broker, ca = secured
    env = {
        **_env(broker, ca, "SCRAM-SHA-256", tmp_path, password="not-the-password"),
        **topics_env(prefixed_topics(unique_name)),
        "STREAMPROC_METRICS_PORT": "0",
        "STREAMPROC_DATA_DIR": str(tmp_path / "data"),
    }
    started = time.monotonic()
    result = _cli(*command, env=env, timeout=90)
    took = time.monotonic() - started
    assert result.returncode != 0, (result.stdout, result.stderr)
    assert took < 60, took
    assert "authentication" in result.stderr.lower() or "sasl" in result.stderr.lower(), result.stderr[-2000:]
    assert "not-the-password" not in result.stdout + result.stderr


def test_a_worker_without_credentials_is_told_what_to_set(tmp_path: Path) -> None:
    result = _cli(
        "worker", env={"STREAMPROC_BROKERS": "127.0.0.1:1", "STREAMPROC_SECURITY_PROTOCOL": "SASL_SSL"}
    )
    assert result.returncode == 2
    assert "needs STREAMPROC_SASL_USERNAME and STREAMPROC_SASL_PASSWORD" in result.stderr
