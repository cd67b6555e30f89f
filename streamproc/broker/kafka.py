"""A single-node Apache Kafka (KRaft) broker on loopback, for tests and local runs.

The broker jars come from Maven Central (`pom.xml` beside this file) and are cached; the broker
runs on the machine's Java 17+. `python -m streamproc.broker.kafka fetch` warms the cache;
`python -m streamproc.broker.kafka run` starts a broker and prints its bootstrap address.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from streamproc.broker.process import free_port, stop_process, wait_ready
from streamproc.errors import BrokerError

KAFKA_VERSION = "4.1.1"
HERE = Path(__file__).parent / "kafka"
DEFAULT_HOME = Path.home() / ".cache" / "streamproc" / f"kafka-{KAFKA_VERSION}"
READY_TIMEOUT_SECONDS = 90.0  # format + JVM start take 10-20 s on a busy 2-core machine

SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data_dir}
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
num.network.threads=2
num.io.threads=4
log.retention.check.interval.ms=1000
log.cleaner.backoff.ms=1000
log.initial.task.delay.ms=0
log.cleaner.dedupe.buffer.size=33554432
"""


def fetch_jars(home: Path = DEFAULT_HOME) -> Path:
    """Download the broker runtime with Maven into `home/libs` (once; cached)."""
    libs = home / "libs"
    if (libs / ".complete").exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError("Apache Kafka jars are fetched with Maven: install it (apt-get install maven)")
    home.mkdir(parents=True, exist_ok=True)
    tmp = home / "libs.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(HERE / "pom.xml"),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={tmp}",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BrokerError(
            f"mvn failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    (libs / ".complete").write_text(KAFKA_VERSION)
    return libs


@dataclass
class KafkaBroker:
    """A KRaft broker+controller on free loopback ports. Use as a context manager.

    `restart()` keeps the data directory, `stop(kill=True)` simulates a crash.
    """

    home: Path = DEFAULT_HOME
    workdir: Path | None = None
    port: int = 0
    controller_port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    _own_workdir: bool = field(default=False, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "logs" / "server.log"

    def _java(self, *args: str, heap: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise BrokerError("Apache Kafka needs Java 17+ on PATH")
        assert self.workdir is not None
        return [
            java,
            heap,
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={HERE / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.workdir / 'logs'}",
            "-cp",
            f"{fetch_jars(self.home)}/*",
            *args,
        ]

    def start(self) -> KafkaBroker:
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="kafka-"))
            self._own_workdir = True
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        config = self.workdir / "server.properties"
        if not config.exists():
            self.port, self.controller_port = free_port(), free_port()
            config.write_text(
                SERVER_PROPERTIES.format(
                    port=self.port, controller_port=self.controller_port, data_dir=self.workdir / "data"
                )
            )
            fmt = subprocess.run(
                self._java(
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    uuid.uuid4().hex[:22],
                    "-c",
                    str(config),
                    "-g",
                    heap="-Xmx256m",
                ),
                capture_output=True,
                text=True,
                check=False,
            )
            if fmt.returncode != 0:
                raise BrokerError(f"kafka storage format failed:\n{fmt.stdout}{fmt.stderr}")
        out = (self.workdir / "logs" / "stdout.log").open("ab")
        self.proc = subprocess.Popen(
            self._java(
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20",
                "-XX:+ExitOnOutOfMemoryError",
                "-Xms256m",
                "kafka.Kafka",
                str(config),
                heap="-Xmx1g",
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # own session: Ctrl-C reaches the worker, which stops the broker after itself
            start_new_session=True,
        )
        out.close()
        wait_ready(self.proc, self.bootstrap, READY_TIMEOUT_SECONDS, self.workdir / "logs" / "stdout.log")
        return self

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
            self.proc.wait(10)
        else:
            stop_process(self.proc, timeout=30)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> KafkaBroker:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamproc.broker.kafka")
    parser.add_argument("command", choices=["fetch", "run"])
    parser.add_argument(
        "--home", type=Path, default=Path(os.environ.get("STREAMPROC_KAFKA_HOME", DEFAULT_HOME))
    )
    args = parser.parse_args(argv)
    if args.command == "fetch":
        print(fetch_jars(args.home))
        return 0
    with KafkaBroker(home=args.home) as broker:
        print(f"kafka {KAFKA_VERSION} ready at {broker.bootstrap} (Ctrl-C stops it)", flush=True)
        try:
            while broker.proc is not None and broker.proc.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
