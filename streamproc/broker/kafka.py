"""Apache Kafka (KRaft) on loopback, for tests, benchmarks and local runs: one broker, or a cluster
of brokers that are also the controller quorum.

The broker jars come from Maven Central (`pom.xml` beside this file) and are cached; the brokers
run on the machine's Java 17+. `python -m streamproc.broker.kafka fetch` warms the cache;
`python -m streamproc.broker.kafka run [--nodes 3]` starts brokers and prints the bootstrap
address until Ctrl-C or SIGTERM, and then stops them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from streamproc.broker.process import free_port, spawn, stop_on_signals, stop_process, wait_ready
from streamproc.errors import BrokerError

KAFKA_VERSION = "4.1.1"
HERE = Path(__file__).parent
DEFAULT_HOME = Path.home() / ".cache" / "streamproc" / f"kafka-{KAFKA_VERSION}"
READY_TIMEOUT_SECONDS = 90.0  # format + JVM start take 10-20 s on a busy 2-core machine

SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id={node_id}
controller.quorum.voters={voters}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}{extra_listeners}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}{extra_advertised}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT{extra_protocols}
log.dirs={data_dir}
num.partitions=1
default.replication.factor={replication}
min.insync.replicas={min_isr}
offsets.topic.replication.factor={replication}
offsets.topic.num.partitions=1
transaction.state.log.replication.factor={replication}
transaction.state.log.min.isr={min_isr}
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor={replication}
share.coordinator.state.topic.min.isr={min_isr}
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
        str(HERE / "kafka" / "pom.xml"),
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
class Listener:
    """An extra listener (e.g. SASL_SSL for security tests) and the settings it needs."""

    name: str  # also its security protocol, e.g. SASL_SSL
    port: int = 0
    properties: Mapping[str, str] = field(default_factory=dict)


@dataclass
class KafkaBroker:
    """A KRaft broker+controller on free loopback ports. Use as a context manager.

    `restart()` keeps the data directory, `stop(kill=True)` simulates a crash. In a cluster, the
    nodes share `cluster_id` and `voters` (KafkaCluster sets them).
    """

    home: Path = DEFAULT_HOME
    workdir: Path | None = None
    port: int = 0
    controller_port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    node_id: int = 1
    voters: str = ""  # id@host:port,... ; empty: this node alone
    cluster_id: str = field(default_factory=lambda: uuid.uuid4().hex[:22])
    replication: int = 1
    heap: str = "-Xmx1g"
    listeners: list[Listener] = field(default_factory=list)
    format_args: list[str] = field(default_factory=list)  # e.g. --add-scram credentials
    _own_workdir: bool = field(default=False, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self._workdir / "logs" / "server.log"

    @property
    def _workdir(self) -> Path:
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="kafka-"))
            self._own_workdir = True
        return self.workdir

    def _java(self, *args: str, heap: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise BrokerError("Apache Kafka needs Java 17+ on PATH")
        return [
            java,
            heap,
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={HERE / 'kafka' / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self._workdir / 'logs'}",
            "-cp",
            f"{fetch_jars(self.home)}/*",
            *args,
        ]

    def allocate_ports(self) -> None:
        self.port = self.port or free_port()
        self.controller_port = self.controller_port or free_port()
        for listener in self.listeners:
            listener.port = listener.port or free_port()

    def configure(self) -> Path:
        """Write server.properties and format the storage (once)."""
        workdir = self._workdir
        (workdir / "logs").mkdir(parents=True, exist_ok=True)
        config = workdir / "server.properties"
        if config.exists():
            return config
        self.allocate_ports()
        text = SERVER_PROPERTIES.format(
            node_id=self.node_id,
            voters=self.voters or f"{self.node_id}@127.0.0.1:{self.controller_port}",
            port=self.port,
            controller_port=self.controller_port,
            data_dir=workdir / "data",
            replication=self.replication,
            min_isr=min(2, self.replication),
            extra_listeners="".join(f",{lst.name}://127.0.0.1:{lst.port}" for lst in self.listeners),
            extra_advertised="".join(f",{lst.name}://127.0.0.1:{lst.port}" for lst in self.listeners),
            extra_protocols="".join(f",{lst.name}:{lst.name}" for lst in self.listeners),
        )
        text += "".join(f"{k}={v}\n" for lst in self.listeners for k, v in lst.properties.items())
        config.write_text(text)
        fmt = subprocess.run(
            self._java(
                "kafka.tools.StorageTool", "format", "-t", self.cluster_id, "-c", str(config), *self.format_args,
                heap="-Xmx256m",
            ),
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        if fmt.returncode != 0:
            raise BrokerError(f"kafka storage format failed:\n{fmt.stdout}{fmt.stderr}")
        return config

    def launch(self) -> None:
        """Start the broker process without waiting for it to serve."""
        config = self.configure()
        with (self._workdir / "logs" / "stdout.log").open("ab") as out:
            self.proc = spawn(
                self._java(
                    "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExitOnOutOfMemoryError", "-Xms128m",
                    "kafka.Kafka", str(config), heap=self.heap,
                ),
                out,
            )  # fmt: skip

    def start(self) -> KafkaBroker:
        self.launch()
        assert self.proc is not None
        wait_ready(self.proc, self.bootstrap, READY_TIMEOUT_SECONDS, self._workdir / "logs" / "stdout.log")
        return self

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
            self.proc.wait(10)
        else:
            stop_process(self.proc)
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


@dataclass
class KafkaCluster:
    """`size` KRaft nodes, each a broker and a voter of the controller quorum, replication
    `size` by default with min.insync.replicas 2 (the production settings, docs/operations.md).
    Heaps are small so that three fit a 2-core test machine."""

    size: int = 3
    heap: str = "-Xmx384m"
    home: Path = DEFAULT_HOME
    nodes: list[KafkaBroker] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return ",".join(n.bootstrap for n in self.nodes)

    def start(self) -> KafkaCluster:
        cluster_id = uuid.uuid4().hex[:22]
        self.nodes = [
            KafkaBroker(
                home=self.home, node_id=i + 1, cluster_id=cluster_id, replication=self.size, heap=self.heap
            )
            for i in range(self.size)
        ]
        for node in self.nodes:
            node.allocate_ports()
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        for node in self.nodes:
            node.voters = voters
            node.launch()  # all at once: the quorum needs a majority before any broker serves
        for node in self.nodes:
            assert node.proc is not None
            wait_ready(
                node.proc, node.bootstrap, READY_TIMEOUT_SECONDS, node._workdir / "logs" / "stdout.log"
            )
        asyncio.run(_wait_for_brokers(self.bootstrap, self.size, READY_TIMEOUT_SECONDS))
        return self

    def node_by_id(self, node_id: int) -> KafkaBroker:
        return next(n for n in self.nodes if n.node_id == node_id)

    def close(self) -> None:
        for node in self.nodes:
            node.close()

    def __enter__(self) -> KafkaCluster:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


async def _wait_for_brokers(bootstrap: str, count: int, timeout: float) -> None:
    from aiokafka import AIOKafkaConsumer

    deadline = time.monotonic() + timeout
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    await asyncio.sleep(0)  # aiokafka 0.14 fails a stop() before its background task first ran
    try:
        while len(consumer._client.cluster.brokers()) < count:
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"only {len(consumer._client.cluster.brokers())} of {count} brokers registered"
                )
            await asyncio.sleep(0.5)
            await consumer._client.force_metadata_update()
    finally:
        await consumer.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamproc.broker.kafka")
    parser.add_argument("command", choices=["fetch", "run"])
    parser.add_argument("--nodes", type=int, default=1, help="brokers (a KRaft cluster when more than 1)")
    parser.add_argument(
        "--home", type=Path, default=Path(os.environ.get("STREAMPROC_KAFKA_HOME", DEFAULT_HOME))
    )
    args = parser.parse_args(argv)
    if args.command == "fetch":
        print(fetch_jars(args.home))
        return 0
    with stop_on_signals():
        brokers: KafkaBroker | KafkaCluster = (
            KafkaBroker(home=args.home) if args.nodes == 1 else KafkaCluster(args.nodes, home=args.home)
        )
        try:
            brokers.start()
            print(
                f"kafka {KAFKA_VERSION} ready at {brokers.bootstrap} (Ctrl-C or SIGTERM stops it)", flush=True
            )
            procs = [brokers.proc] if isinstance(brokers, KafkaBroker) else [n.proc for n in brokers.nodes]
            while all(p is not None and p.poll() is None for p in procs):
                time.sleep(0.5)
            print("a broker exited; stopping", flush=True)
            return 1
        except KeyboardInterrupt:
            return 0
        finally:
            print("stopping kafka", flush=True)
            brokers.close()


if __name__ == "__main__":
    raise SystemExit(main())
