"""A Docker engine for the container tests: installs Debian's docker.io, docker-compose,
debootstrap and openssl when missing, starts `dockerd --bridge=none --iptables=false` with its own socket,
pidfile and directories, and stops it (and everything it ran) at the end.

Containers use host networking (`--network host`, compose `network_mode: host`): with no bridge,
every connection stays on loopback. `python -m tests.containers.engine install` installs the
packages (as .ci/run does); `python -m tests.containers.engine run` starts an engine and prints its
DOCKER_HOST until Ctrl-C, for trying things by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from streamproc.broker.process import spawn, tail

# Debian's client, of the daemon's own version. The machine may carry a newer client earlier on
# PATH (/usr/local/bin/docker) that builds only through a buildx plugin that is not installed.
DOCKER = "/usr/bin/docker"
COMPOSE = "/usr/bin/docker-compose"  # Debian's Compose 1.29
DOCKERD = "/usr/sbin/dockerd"
DEBOOTSTRAP = "/usr/sbin/debootstrap"
OPENSSL = "/usr/bin/openssl"  # makes the canary certificate of the build-secret test
PACKAGES = {DOCKERD: "docker.io", COMPOSE: "docker-compose", DEBOOTSTRAP: "debootstrap", OPENSSL: "openssl"}

CACHE = Path.home() / ".cache" / "streamproc"
# Images and the build cache are kept here between runs (the stand-in base is imported once, the
# dependency layer is built once per pyproject.toml); one session at a time holds it.
DATA_ROOT = CACHE / "docker-engine"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0
LABEL = "org.streamproc.test"  # on every container and volume the tests create


class EngineError(RuntimeError):
    """The engine could not be installed, started or used; the message says what to do."""


def missing_packages() -> list[str]:
    return sorted({pkg for path, pkg in PACKAGES.items() if not os.access(path, os.X_OK)})


def install() -> None:
    """apt-get install what is missing (Debian's packages; needs root, as CI and sessions have)."""
    need = missing_packages()
    if not need:
        return
    if os.geteuid() != 0:
        raise EngineError(f"the container tests need {' '.join(need)}: apt-get install -y {' '.join(need)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *need],
    ):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=900)
        if done.returncode != 0:
            raise EngineError(
                f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
    still = missing_packages()
    if still:
        raise EngineError(f"installed, but still missing: {still}")


@dataclass
class Engine:
    """One dockerd for a test session. Use as a context manager."""

    data_root: Path | None = None  # None: the shared cache if free, else a temporary one
    runtime: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="spd-")))
    proc: subprocess.Popen[bytes] | None = None
    cached: bool = False  # whether data_root is the cache kept between runs
    _lock: IO[bytes] | None = field(default=None, repr=False)
    _own_data_root: bool = field(default=False, repr=False)

    @property
    def socket(self) -> Path:
        return self.runtime / "docker.sock"  # short: unix socket paths are limited to 108 bytes

    @property
    def log_path(self) -> Path:
        return self.runtime / "dockerd.log"

    @property
    def env(self) -> dict[str, str]:
        """Environment for docker and docker-compose: this engine, BuildKit, and an empty client
        configuration (no user's credential helpers or contexts)."""
        config = self.runtime / "client"
        config.mkdir(exist_ok=True)
        return {
            **os.environ,
            "DOCKER_HOST": f"unix://{self.socket}",
            "DOCKER_CONFIG": str(config),
            "DOCKER_BUILDKIT": "1",
        }

    def _choose_data_root(self) -> Path:
        if self.data_root is not None:
            return self.data_root
        DATA_ROOT.mkdir(parents=True, exist_ok=True)
        lock = (DATA_ROOT.parent / "docker-engine.lock").open("wb")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another session's engine holds the cache: work without it
            lock.close()
            self._own_data_root = True
            return self.runtime / "data" / "root"
        self._lock, self.cached = lock, True
        return DATA_ROOT / "root"

    def start(self) -> Engine:
        install()
        self.data_root = self._choose_data_root()
        exec_root = self.runtime / "exec"
        cmd = [
            DOCKERD,
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--data-root", str(self.data_root),
            "--exec-root", str(exec_root),
            # beside a cached data root, so that a daemon left running on it refuses a second one
            "--pidfile", str(self.data_root.parent / "dockerd.pid"),
            "--host", f"unix://{self.socket}",
            "--log-level", "warn",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.proc = spawn(cmd, log)  # a parent-death signal: it never outlives the tests
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if self.proc.poll() is not None:
                raise EngineError(f"dockerd exited ({self.proc.returncode}) at start:\n{self.log_tail()}")
            if self.socket.exists() and self.docker("version", check=False, timeout=10).returncode == 0:
                break
            if time.monotonic() > deadline:
                self.stop()
                raise EngineError(
                    f"dockerd did not answer in {START_TIMEOUT_SECONDS:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.3)
        self.remove_leftovers()
        return self

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.log_path, lines)

    def docker(
        self, *args: str, check: bool = True, timeout: float = 120, input: bytes | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the docker client against this engine; a failure raises with its output."""
        done = subprocess.run(
            [DOCKER, *args],
            env=self.env,
            capture_output=True,
            input=input.decode() if input is not None else None,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise EngineError(
                f"docker {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
            )
        return done

    def compose(
        self, *args: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run Debian's docker-compose against this engine, `env` added to its environment."""
        done = subprocess.run(
            [COMPOSE, *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise EngineError(
                f"docker-compose {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
            )
        return done

    def remove_leftovers(self) -> None:
        """Remove every container and test volume (a cached data root may hold some from a run
        that was killed), and images no tag points at any more."""
        ids = self.docker("ps", "-aq", check=False).stdout.split()
        if ids:
            self.docker("rm", "-f", "-v", *ids, check=False, timeout=120)
        volumes = self.docker("volume", "ls", "-q", "--filter", f"label={LABEL}", check=False).stdout.split()
        if volumes:
            self.docker("volume", "rm", "-f", *volumes, check=False)
        self.docker("image", "prune", "-f", check=False, timeout=120)

    def stop(self) -> None:
        """Remove what the tests left, stop dockerd (it stops its containerd), free the cache."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.remove_leftovers()
                # the dependency layer stays; old source layers go
                self.docker("builder", "prune", "-f", "--keep-storage", "2gb", check=False, timeout=120)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                self._kill_containerd()
        self.proc = None
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None
        _unmount_under(self.runtime)  # dockerd leaves its exec-root's netns/default bind mount
        if self._own_data_root and self.data_root is not None:
            _remove_tree(self.data_root)
        shutil.rmtree(self.runtime, ignore_errors=True)

    def _kill_containerd(self) -> None:
        """dockerd SIGKILLed cannot stop the containerd it started: stop it by its pid file."""
        pidfile = self.runtime / "exec" / "containerd" / "containerd.pid"
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _unmount_under(path: Path) -> None:
    """Unmount whatever is still mounted below `path`, deepest first."""
    prefix = str(path.resolve()) + "/"
    with contextlib.suppress(OSError):
        mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
        for target in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
            subprocess.run(["umount", "-l", target], check=False, capture_output=True)


def _remove_tree(path: Path) -> None:
    """rm -rf that also takes overlay2's read-only or busy leftovers without failing the tests."""
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False, capture_output=True)


@contextlib.contextmanager
def running_engine() -> Iterator[Engine]:
    engine = Engine()
    try:
        yield engine.start()
    finally:
        engine.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.containers.engine", description=__doc__)
    parser.add_argument("command", choices=["install", "run"])
    args = parser.parse_args(argv)
    try:
        install()
        if args.command == "run":
            with running_engine() as engine:
                print(f"export DOCKER_HOST=unix://{engine.socket}  # Ctrl-C stops the engine", flush=True)
                with contextlib.suppress(KeyboardInterrupt):
                    signal.signal(signal.SIGTERM, signal.default_int_handler)
                    signal.pause()
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
