"""The command line against a real broker: produce a JSONL file, tail the verdicts, check offline."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from streamproc.gen.demo import generate
from tests.support.workers import WorkerProcess, prefixed_topics, topics_env

pytestmark = [pytest.mark.e2e]


def _cli(*args: str, env: dict[str, str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "streamproc", *args],
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        timeout=240,
        check=False,
    )


def test_produce_then_tail(
    tansu: Any, unique_name: str, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    topics = prefixed_topics(unique_name)
    stream = generate(40, seed=5)
    path = tmp_path / "comments.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in stream.events) + b"\n{broken\n")
    env = {"STREAMPROC_BROKERS": tansu.bootstrap, **topics_env(topics)}
    start_worker(tansu.bootstrap, unique_name, partitions=1, topics=topics)

    produced = _cli("produce", str(path), "--quiet", env=env)
    assert produced.returncode == 0, produced.stderr.decode()
    assert b"sent 41 events" in produced.stderr

    tailed = _cli("tail", "--from-beginning", "--max", "40", "--timeout", "120", "--json", env=env)
    assert tailed.returncode == 0, tailed.stderr.decode()
    verdicts = [orjson.loads(line) for line in tailed.stdout.splitlines()]
    assert sorted(v["comment_id"] for v in verdicts) == sorted(e["id"] for e in stream.events)

    human = _cli("tail", "--from-beginning", "--max", "3", "--timeout", "60", env=env)
    lines = human.stdout.decode().splitlines()
    assert len(lines) == 3 and all(line.startswith("[") and "score=" in line for line in lines)

    # The producer batches records, and Tansu's end offsets stop at the last batch's first record:
    # the audit still reads every comment and every verdict.
    for _ in range(30):  # the broken line's dead letter may come a moment after the 40 verdicts
        audited = _cli("audit", "--json", env=env)
        assert audited.returncode == 0, audited.stdout.decode() + audited.stderr.decode()
        report = orjson.loads(audited.stdout)
        if report["pending"] == 0:
            break
        time.sleep(1)
    assert (report["records"], report["judged"], report["dead_lettered"], report["missing"]) == (41, 40, 1, 0)


def test_check_reads_stdin_and_reports_bad_lines() -> None:
    stream = generate(20, seed=9)
    data = b"\n".join(orjson.dumps(e) for e in stream.events) + b'\n{"id": "x"}\n'
    result = _cli("check", "-", "--json", env={}, stdin=data)
    assert result.returncode == 0
    verdicts = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [v["comment_id"] for v in verdicts] == [e["id"] for e in stream.events]
    assert all(v["action"] in ("approve", "hold", "reject") for v in verdicts)
    assert b"line 21: missing_field" in result.stderr


def test_produce_without_brokers_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text("{}\n")
    result = _cli("produce", str(path), env={"STREAMPROC_BROKERS": ""})
    assert result.returncode == 2
    assert b"STREAMPROC_BROKERS is not set" in result.stderr
