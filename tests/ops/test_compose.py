"""docker-compose.yml follows the Compose Specification and hangs together: what services depend
on exists, mounted files exist, host ports are unique, workers reach the Kafka service and can be
scaled, Prometheus and Grafana point at the right services. (No Docker engine needed.)"""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from streamproc.broker import kafka
from streamproc.config import ALL_STAGES, Topics
from streamproc.errors import DecodeError
from streamproc.events import decode_comment
from tests.ops.support import GRAFANA_DIR, PROMETHEUS_DIR, REPO

SHARED_SCHEMA = Path("shared") / "schemas" / "compose-spec.json"


def _schema() -> Path:
    """The Compose Specification schema, kept (not copied) in the `shared` folder beside the
    checkout; for a clone of a local checkout (a rehearsal of CI in a temporary directory), beside
    the checkout it was cloned from."""
    places = [REPO.parent]
    origin = subprocess.run(
        ["git", "-C", str(REPO), "config", "--get", "remote.origin.url"], capture_output=True, text=True
    ).stdout.strip()
    if origin and Path(origin).is_dir():
        places.append(Path(origin).resolve().parent)
    found = [place / SHARED_SCHEMA for place in places if (place / SHARED_SCHEMA).is_file()]
    assert found, f"Compose Specification schema missing: looked for {SHARED_SCHEMA} in {places}"
    return found[0]


IMAGE_TAG = re.compile(r"^[\w./-]+:[\w][\w.-]*$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "docker-compose.yml").read_text()))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def workers(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The streamproc worker services: those that set STREAMPROC_STAGES."""
    return {name: s for name, s in services.items() if "STREAMPROC_STAGES" in environment(s)}


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def bind_mounts(service: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(host path, container path) of the service's bind mounts (named volumes skipped)."""
    for volume in service.get("volumes", []):
        source, target = (
            (volume.split(":")[:2]) if isinstance(volume, str) else (volume["source"], volume["target"])
        )
        if source.startswith((".", "/")):
            yield source, target


def host_ports(service: dict[str, Any]) -> Iterator[str]:
    for port in service.get("ports", []):
        if isinstance(port, dict):
            yield str(port.get("published"))
        else:
            parts = str(port).split(":")
            if len(parts) >= 2:
                yield parts[-2]


def test_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(_schema().read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_dependencies_exist(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on", [])
        for dep in depends if isinstance(depends, list) else list(depends):
            assert dep in services, f"{name} depends on {dep}, which is not a service"
            assert dep != name


def test_mounted_files_exist(services: dict[str, dict[str, Any]]) -> None:
    mounted = []
    for name, service in services.items():
        for source, target in bind_mounts(service):
            path = (REPO / source).resolve()
            assert path.exists(), f"{name} mounts {source}, which does not exist"
            assert REPO.resolve() in path.parents, f"{name} mounts {source} from outside the repository"
            mounted.append((path, target))
    paths = {p for p, _ in mounted}
    for needed in (
        PROMETHEUS_DIR / "prometheus.yml",
        PROMETHEUS_DIR / "alerts.yml",
        GRAFANA_DIR / "provisioning" / "datasources",
        GRAFANA_DIR / "provisioning" / "dashboards",
        GRAFANA_DIR / "dashboards",
    ):
        assert needed.resolve() in paths, f"{needed} is not mounted"
    # Grafana's dashboard provider reads the directory the dashboards are mounted at.
    provider = yaml.safe_load((GRAFANA_DIR / "provisioning" / "dashboards" / "streamproc.yml").read_text())
    target = dict(mounted)[(GRAFANA_DIR / "dashboards").resolve()]
    assert [p["options"]["path"] for p in provider["providers"]] == [target]
    assert (GRAFANA_DIR / "dashboards" / "streamproc.json").is_file()
    # Prometheus finds alerts.yml next to its config, as rule_files says.
    prom = dict(mounted)
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config_dir = Path(prom[(PROMETHEUS_DIR / "prometheus.yml").resolve()]).parent
    for rule_file in config["rule_files"]:
        assert str(config_dir / rule_file) in prom.values(), f"{rule_file} is not mounted beside the config"


def test_host_ports_do_not_collide(services: dict[str, dict[str, Any]]) -> None:
    published = [port for service in services.values() for port in host_ports(service)]
    assert published, "nothing is reachable from the host"
    assert len(published) == len(set(published)), published


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service.get("image")
        assert image or service.get("build"), name
        if image and not service.get("build"):
            assert IMAGE_TAG.match(image) and not image.endswith(":latest"), f"{name}: pin {image}"
    assert services["kafka"]["image"].startswith("apache/kafka:")


def test_workers_point_at_kafka_and_scale(services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]
    listeners = environment(kafka)["KAFKA_ADVERTISED_LISTENERS"].split(",")
    internal = {entry.split("://", 1)[1] for entry in listeners}
    found = workers(services)
    assert len(found) >= 2, "one service per stage group"
    covered = set()
    for name, service in found.items():
        env = environment(service)
        for broker in env["STREAMPROC_BROKERS"].split(","):
            assert broker.split("://")[-1] in internal, (
                f"{name}: {broker} is not an advertised Kafka listener"
            )
            assert broker.split("://")[-1].split(":")[0] in services
        stages = env["STREAMPROC_STAGES"].split(",")
        assert set(stages) <= set(ALL_STAGES), name
        covered |= set(stages)
        # `docker compose up --scale` needs neither a fixed name nor a fixed host port.
        assert "container_name" not in service, name
        assert not list(host_ports(service)), name
        assert "kafka" in service.get("depends_on", {}) or "topics" in service.get("depends_on", {}), name
    assert covered == set(ALL_STAGES), "some stage runs in no service"
    apps = {environment(s).get("STREAMPROC_APP_ID") for s in found.values()}
    assert len(apps) == 1, "the stage groups must share one app id (consumer groups, internal topics)"


def test_topic_service_creates_the_published_topics(services: dict[str, dict[str, Any]]) -> None:
    command = " ".join(services["topics"]["command"])
    for f in fields(Topics):
        assert re.search(rf"(^|\s){re.escape(getattr(Topics(), f.name))}(\s|;|$)", command), f.name
    assert "cleanup.policy=compact" in command


def test_prometheus_and_grafana_point_at_the_services(services: dict[str, dict[str, Any]]) -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    names = {n for sd in jobs["streamproc"]["dns_sd_configs"] for n in sd["names"]}
    assert names == set(workers(services)), "Prometheus must discover every worker service, by DNS"
    for sd in jobs["streamproc"]["dns_sd_configs"]:
        for name in sd["names"]:
            assert str(sd["port"]) == environment(services[name]).get("STREAMPROC_METRICS_PORT", "9464")
    exporter = jobs["kafka-exporter"]["static_configs"][0]["targets"][0]
    host, port = exporter.split(":")
    assert host in services and port in [str(p) for p in services[host].get("expose", [])]
    assert any("kafka:9092" in arg for arg in services[host]["command"])
    datasources = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    url = datasources["datasources"][0]["url"]
    assert re.match(r"http://prometheus:9090/?$", url) and "prometheus" in services
    assert "9090:9090" in services["prometheus"]["ports"]
    dashboard = json.loads((GRAFANA_DIR / "dashboards" / "streamproc.json").read_text())
    uids = {d["uid"] for d in datasources["datasources"]}
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] in uids, panel["title"]


def test_dockerfile() -> None:
    text = (REPO / "Dockerfile").read_text()
    # The base is a build argument (the container tests build on a Debian stand-in); its default is
    # the official slim image of the Debian release that stand-in is bootstrapped from.
    assert re.search(r"^ARG BASE=python:3\.11-slim-bookworm$", text, re.M)
    assert re.findall(r"^FROM (.+)$", text, re.M) == ["${BASE}"]
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1] not in ("root", "0"), "the image must run as a non-root user"
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.M)
    assert re.search(r"pip install [^\n]*\.(\s|$)", text)
    assert re.search(r'^ENTRYPOINT \["streamproc"\]', text, re.M)
    # A CA bundle for the package index is a build secret, never a file copied into a layer.
    assert not re.search(r"^(COPY|ADD) .*(\.pem|\.crt|ca-certificates)", text, re.M | re.I)
    # .dockerignore is an allow-list: nothing but the package and its metadata reach the build.
    lines = (REPO / ".dockerignore").read_text().splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert ignored[0] == "*"
    assert {line for line in ignored if line.startswith("!")} == {
        "!pyproject.toml",
        "!README.md",
        "!streamproc/",
    }


def test_demo_producer_command_generates_valid_comments(services: dict[str, dict[str, Any]]) -> None:
    """The Python in the producer's command (compose `$$` is a literal `$`) runs against the
    current generator and writes comment events the workers accept, plus at most one malformed."""
    script = services["producer"]["command"][0].replace("$$", "$")
    match = re.search(r'python -c "(.*?)" "\$round" "\$DEMO_BATCH"', script, re.S)
    assert match, script
    result = subprocess.run(
        [sys.executable, "-c", match.group(1), "3", "40"], capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
    valid, invalid = [], 0
    for line in result.stdout.splitlines():
        try:
            valid.append(decode_comment(line))
        except DecodeError:
            invalid += 1
    assert len(valid) == 40 and invalid <= 1
    assert all(c.id.startswith("r3-") for c in valid)
    assert len({c.id for c in valid}) == 40
    assert "streamproc produce /tmp/demo.jsonl" in script


# --- the third-party images, against their documented configuration -----------------------------
# They cannot be pulled here, so what the stack relies on is checked against what each image
# documents (summarised in ../shared/docs/containers.md); tests/containers runs our own services.

# The apache/kafka image's official single-node KRaft example sets these; with any setting given by
# environment the image's packaged defaults are not used, so the stack must set them all.
KAFKA_EXAMPLE_KEYS = {
    "KAFKA_NODE_ID", "KAFKA_PROCESS_ROLES", "KAFKA_CONTROLLER_QUORUM_VOTERS", "KAFKA_LISTENERS",
    "KAFKA_ADVERTISED_LISTENERS", "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
    "KAFKA_INTER_BROKER_LISTENER_NAME", "KAFKA_CONTROLLER_LISTENER_NAMES", "CLUSTER_ID",
    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR",
    "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR", "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS",
    "KAFKA_LOG_DIRS",
}  # fmt: skip


def kafka_env_name(key: str) -> str:
    """The image's environment variable for a server.properties key: `_` -> `__`, `-` -> `___`,
    `.` -> `_`, upper-cased (log.dirs -> KAFKA_LOG_DIRS)."""
    return "KAFKA_" + key.replace("_", "__").replace("-", "___").replace(".", "_").upper()


def test_kafka_env_is_the_images_documented_configuration(services: dict[str, dict[str, Any]]) -> None:
    env = environment(services["kafka"])
    missing = KAFKA_EXAMPLE_KEYS - set(env)
    assert not missing, f"the apache/kafka example sets {sorted(missing)} too"
    # Every KAFKA_* variable names a broker property that the tests' own Kafka (same version, from
    # Maven Central) runs with in every broker test: no misspelt or made-up key.
    template = kafka.SERVER_PROPERTIES.format_map(collections.defaultdict(str))
    known = {kafka_env_name(line.split("=", 1)[0]) for line in template.splitlines() if "=" in line}
    unknown = {k for k in env if k.startswith("KAFKA_") and not k.startswith("KAFKA_LOG4J_")} - known
    assert not unknown, f"not broker properties the tests run Kafka with: {sorted(unknown)}"
    for service in ("kafka", "topics"):
        assert services[service]["image"] == f"apache/kafka:{kafka.KAFKA_VERSION}", (
            f"{service}: run the Kafka version the tests run ({kafka.KAFKA_VERSION})"
        )
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"]), "a base64 UUID, fixed across restarts"


def test_kafka_listeners_hang_together(services: dict[str, dict[str, Any]]) -> None:
    env = environment(services["kafka"])
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(listeners) <= set(protocols) and set(advertised) <= set(listeners)
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert controller in listeners and controller not in advertised
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    voter_port = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split("@", 1)[1].split(":")[1]
    assert listeners[controller].endswith(f":{voter_port}")
    # The host's address (localhost:9094) is published on the same port.
    external = [a for a in advertised.values() if a.startswith("localhost:")]
    port = external[0].split(":")[1]
    assert f"{port}:{port}" in services["kafka"]["ports"]


def test_the_exporter_speaks_a_protocol_kafka_4_accepts(services: dict[str, dict[str, Any]]) -> None:
    """Kafka 4 removed old protocol versions (KIP-896); a Sarama exporter takes its version from
    --kafka.version, which must be 3.x or newer."""
    flags = dict(arg.split("=", 1) for arg in services["kafka-exporter"]["command"])
    version = tuple(int(p) for p in flags["--kafka.version"].split("."))
    assert version >= (3, 0, 0), flags
    assert IMAGE_TAG.match(services["kafka-exporter"]["image"])


def test_prometheus_and_grafana_use_their_documented_paths(services: dict[str, dict[str, Any]]) -> None:
    prom = services["prometheus"]
    flags = dict(arg.split("=", 1) for arg in prom["command"] if "=" in arg)
    targets = {t for _, t in bind_mounts(prom)}
    assert flags["--config.file"] in targets
    named = {v.split(":")[1] for v in prom["volumes"] if isinstance(v, str) and not v.startswith((".", "/"))}
    assert flags["--storage.tsdb.path"] in named, "Prometheus data must be on the named volume"
    grafana = {t for _, t in bind_mounts(services["grafana"])}
    assert {"/etc/grafana/provisioning/datasources", "/etc/grafana/provisioning/dashboards"} <= grafana
