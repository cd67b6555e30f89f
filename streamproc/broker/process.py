"""Shared helpers for broker processes: free ports, readiness by a real client, stopping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from aiokafka import AIOKafkaProducer

from streamproc.errors import BrokerError


def spawn(cmd: list[str], out: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start a broker process: its own session (Ctrl-C in a terminal reaches our process, which
    stops the broker after whatever uses it), and, where util-linux's setpriv exists, a parent-death
    signal so that it never outlives us, even if we are SIGKILLed."""
    setpriv = shutil.which("setpriv")
    if setpriv is not None and sys.platform.startswith("linux"):
        cmd = [setpriv, "--pdeathsig", "TERM", "--", *cmd]
    return subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM (and SIGHUP) into KeyboardInterrupt, as SIGINT is, so that a launcher's
    `finally` blocks stop its children whichever signal arrives."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def free_port() -> int:
    """A TCP port the OS says is free on loopback (bind to port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _bootstrap(bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await producer.start()
    finally:
        with contextlib.suppress(Exception):
            await producer.stop()


def wait_ready(proc: subprocess.Popen[bytes], bootstrap: str, timeout: float, log: Path) -> None:
    """Wait until a client bootstraps against the broker; fail with its log if it dies or stalls."""
    deadline = time.monotonic() + timeout
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # connection refused is expected until the broker listens
    try:
        _poll(proc, bootstrap, deadline, log)
    finally:
        quiet.setLevel(level)


def _poll(proc: subprocess.Popen[bytes], bootstrap: str, deadline: float, log: Path) -> None:
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BrokerError(f"broker exited with {proc.returncode}; log {log}:\n{tail(log)}")
        try:
            asyncio.run(_bootstrap(bootstrap))
            return
        except Exception as exc:  # not ready yet: connection refused, metadata timeout
            last = exc
            time.sleep(0.2)
    stop_process(proc)
    raise BrokerError(f"broker at {bootstrap} not ready in time ({last!r}); log {log}:\n{tail(log)}")


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM (graceful), then SIGKILL if it does not exit in time."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
