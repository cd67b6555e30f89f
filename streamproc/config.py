"""Settings: one frozen, typed object; the only reader of os.environ (prefix STREAMPROC_)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from streamproc.detect.duplicates import MAX_COMMENTS, THRESHOLD, WINDOW_SECONDS
from streamproc.errors import ConfigError
from streamproc.topology import STAGE_NAMES, group_for

ALL_STAGES = STAGE_NAMES
STALL_ACTIONS = ("restart", "exit")
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic names. Defaults follow the published contract; each can be renamed."""

    comments: str = "comments"
    dlq: str = "comments.dlq"
    links: str = "verdicts.links"
    duplicates: str = "verdicts.duplicates"
    spam: str = "verdicts.spam"
    verdicts: str = "verdicts"
    feedback: str = "feedback"
    model: str = "streamproc.model"  # compacted: the current spam model, shared by all workers


@dataclass(frozen=True, slots=True)
class Secret:
    """A string that does not print."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('********')"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a worker needs. Each field: default, and environment variable STREAMPROC_<NAME>.

        brokers          kafka://host:port[,host:port]; empty starts the embedded broker (Tansu)
        app_id           consumer group and internal-topic prefix ("streamproc")
        stages           consecutive stages of links,duplicates,spam,decide this worker runs (all)
        partitions       partitions of the topics streamproc creates (4)
        replication      replication factor of created topics (1)
        store            Faust table store: rocksdb:// (durable) or memory:// ("rocksdb://")
        data_dir         where RocksDB state lives ("./streamproc-data")
        metrics_port     port of the /metrics endpoint; 0 picks a free one (9464)
        metrics_host     address /metrics listens on ("0.0.0.0")
        hold_threshold   spam score at or above which a comment is held (0.5)
        reject_threshold spam score at or above which a comment is rejected (0.85)
        site_thresholds  JSON per site, e.g. {"news.example": {"hold": 0.4, "reject": 0.8}} ("")
        spam_model       spam model file (from `streamproc train`) used until the model topic has a newer one ("")
        domain_lists     JSON file with {"deny": [...], "allow": [...], "shorteners": [...]} ("")
        duplicate_window seconds a comment stays in the duplicate index (604800)
        duplicate_threshold Jaccard similarity (5-gram shingles) from which a comment is a near-duplicate (0.5)
        duplicate_max_comments comments the duplicate index remembers per partition, oldest forgotten first (1000000)
        session_timeout  seconds without a heartbeat before a worker's partitions move to others (30)
        shutdown_seconds seconds a stop may take before the process exits without a clean commit (30)
        stall_seconds    seconds an input partition with waiting messages may go without progress (120)
        stall_action     restart (re-execute in place) or exit (code 3, for a supervisor) ("restart")
        group_lag_seconds how often a worker reads every stage group's lag from the brokers (15)
        max_in_flight    comments read and not yet finished beyond which a worker pauses fetching its
                         input until half are done (1000)
        security_protocol PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL ("PLAINTEXT")
        sasl_mechanism   PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 ("PLAIN")
        sasl_username, sasl_password  SASL credentials ("")
        ssl_cafile       CA bundle that signed the brokers' certificates ("": the system's)
        ssl_certfile, ssl_keyfile  client certificate and key for mutual TLS ("")

    Any setting can also come from a file: STREAMPROC_<NAME>_FILE=/path (a mounted secret); the
    file's content, without its final newline, is the value.
    """

    brokers: str = ""
    app_id: str = "streamproc"
    stages: tuple[str, ...] = ALL_STAGES
    partitions: int = 4
    replication: int = 1
    store: str = "rocksdb://"
    data_dir: Path = Path("streamproc-data")
    metrics_port: int = 9464
    metrics_host: str = "0.0.0.0"
    hold_threshold: float = 0.5
    reject_threshold: float = 0.85
    site_thresholds: str = ""
    spam_model: str = ""
    domain_lists: str = ""
    duplicate_window: float = WINDOW_SECONDS
    duplicate_threshold: float = THRESHOLD
    duplicate_max_comments: int = MAX_COMMENTS
    session_timeout: float = 30.0
    shutdown_seconds: float = 30.0
    stall_seconds: float = 120.0
    stall_action: str = "restart"
    group_lag_seconds: float = 15.0
    max_in_flight: int = 1000
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    sasl_username: str = ""
    sasl_password: Secret = Secret("")
    ssl_cafile: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""
    topics: Topics = Topics()

    def __post_init__(self) -> None:
        group_for(self.stages, self.app_id)  # valid, consecutive stages
        if self.stall_action not in STALL_ACTIONS:
            raise ConfigError(
                f"stall_action {self.stall_action!r} is invalid: choose from {', '.join(STALL_ACTIONS)}"
            )
        if min(self.session_timeout, self.shutdown_seconds, self.stall_seconds, self.group_lag_seconds) <= 0:
            raise ConfigError(
                "session_timeout, shutdown_seconds, stall_seconds and group_lag_seconds must be positive"
            )
        if not 0 < self.hold_threshold <= self.reject_threshold <= 1:
            raise ConfigError(
                "thresholds must satisfy 0 < hold_threshold <= reject_threshold <= 1, got "
                f"{self.hold_threshold} and {self.reject_threshold}"
            )
        self.thresholds_by_site()  # validates STREAMPROC_SITE_THRESHOLDS early
        if not 0 < self.duplicate_threshold <= 1 or self.duplicate_window <= 0:
            raise ConfigError(
                "duplicate_threshold must be in (0, 1] and duplicate_window positive, got "
                f"{self.duplicate_threshold} and {self.duplicate_window}"
            )
        if self.duplicate_max_comments < 1:
            raise ConfigError(f"duplicate_max_comments must be at least 1, got {self.duplicate_max_comments}")
        if self.max_in_flight < 1:
            raise ConfigError(f"max_in_flight must be at least 1, got {self.max_in_flight}")
        if self.partitions < 1 or self.replication < 1:
            raise ConfigError("partitions and replication must be at least 1")
        if self.store not in ("rocksdb://", "memory://"):
            raise ConfigError(f"store {self.store!r} is invalid: use rocksdb:// or memory://")
        if self.brokers and not all(b.strip() for b in self.brokers.split(",")):
            raise ConfigError(f"brokers {self.brokers!r} has an empty entry")
        self._check_security()

    def _check_security(self) -> None:
        # Upper-cased once here, so every client sees the canonical spelling.
        object.__setattr__(self, "security_protocol", self.security_protocol.strip().upper())
        object.__setattr__(self, "sasl_mechanism", self.sasl_mechanism.strip().upper())
        if self.security_protocol not in SECURITY_PROTOCOLS:
            raise ConfigError(
                f"security_protocol {self.security_protocol!r} is invalid: choose from "
                f"{', '.join(SECURITY_PROTOCOLS)}"
            )
        if self.sasl_mechanism not in SASL_MECHANISMS:
            raise ConfigError(
                f"sasl_mechanism {self.sasl_mechanism!r} is invalid: choose from {', '.join(SASL_MECHANISMS)}"
            )
        if self.security_protocol.startswith("SASL") and not (
            self.sasl_username and self.sasl_password.value
        ):
            raise ConfigError(
                f"security_protocol {self.security_protocol} needs STREAMPROC_SASL_USERNAME and "
                "STREAMPROC_SASL_PASSWORD (or STREAMPROC_SASL_PASSWORD_FILE)"
            )
        if bool(self.ssl_keyfile) and not self.ssl_certfile:
            raise ConfigError("ssl_keyfile is set without ssl_certfile: set both for mutual TLS")
        if "SSL" in self.security_protocol:
            for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
                path = getattr(self, name)
                if path and not Path(path).is_file():
                    raise ConfigError(f"{name} {path!r} is not a readable file")

    def thresholds_by_site(self) -> dict[str, tuple[float, float]]:
        """site -> (hold, reject) from `site_thresholds`; a missing key takes the global value."""
        if not self.site_thresholds.strip():
            return {}
        try:
            obj = json.loads(self.site_thresholds)
        except ValueError as exc:
            raise ConfigError(f"STREAMPROC_SITE_THRESHOLDS is not valid JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise ConfigError(
                'STREAMPROC_SITE_THRESHOLDS must be an object: {"site": {"hold": 0.4, "reject": 0.8}}'
            )
        out = {}
        for site, t in obj.items():
            if not isinstance(t, dict) or set(t) - {"hold", "reject"}:
                raise ConfigError(
                    f"STREAMPROC_SITE_THRESHOLDS[{site!r}] must be an object with hold and/or reject"
                )
            try:
                hold = float(t.get("hold", self.hold_threshold))
                reject = float(t.get("reject", self.reject_threshold))
            except (TypeError, ValueError):
                raise ConfigError(
                    f"STREAMPROC_SITE_THRESHOLDS[{site!r}] thresholds must be numbers"
                ) from None
            if not 0 < hold <= reject <= 1:
                raise ConfigError(
                    f"STREAMPROC_SITE_THRESHOLDS[{site!r}] must satisfy 0 < hold <= reject <= 1, got {hold} and {reject}"
                )
            out[str(site)] = (hold, reject)
        return out

    @property
    def group_id(self) -> str:
        """Consumer group (and Faust app id) of this worker's stage group (topology.group_for)."""
        return group_for(self.stages, self.app_id).group_id

    @property
    def broker_urls(self) -> str:
        """Brokers as Faust wants them (kafka://host:port;...)."""
        urls = []
        for entry in self.brokers.split(","):
            entry = entry.strip()
            urls.append(entry if "://" in entry else f"kafka://{entry}")
        return ";".join(urls)

    @property
    def bootstrap_servers(self) -> list[str]:
        """Brokers as aiokafka wants them (host:port list)."""
        return [b.strip().split("://", 1)[-1] for b in self.brokers.split(",") if b.strip()]

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _convert(name: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            return raw.lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, tuple):
            return tuple(s.strip() for s in raw.split(",") if s.strip())
        if isinstance(default, Path):
            return Path(raw)
        if isinstance(default, Secret):
            return Secret(raw)
    except ValueError:
        raise ConfigError(
            f"STREAMPROC_{name.upper()}={raw!r} is not a valid {type(default).__name__}"
        ) from None
    return raw


def _read_setting_file(name: str, path: str) -> str:
    try:
        return Path(path).read_text().removesuffix("\n")
    except OSError as exc:
        # The path, never the content: the file holds a secret.
        raise ConfigError(f"{name}={path!r} cannot be read: {exc.strerror}") from None


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from the environment (STREAMPROC_*), then explicit overrides (CLI flags)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    defaults = Settings()
    for f in fields(Settings):
        if f.name == "topics":
            continue
        key = f"STREAMPROC_{f.name.upper()}"
        raw = env.get(key)
        if f"{key}_FILE" in env:
            if raw is not None:
                raise ConfigError(f"both {key} and {key}_FILE are set: set one")
            raw = _read_setting_file(f"{key}_FILE", env[f"{key}_FILE"])
        if raw is not None:
            values[f.name] = _convert(f.name, raw, getattr(defaults, f.name))
    topic_values = {
        t.name: env[f"STREAMPROC_TOPIC_{t.name.upper()}"]
        for t in fields(Topics)
        if f"STREAMPROC_TOPIC_{t.name.upper()}" in env
    }
    if topic_values:
        values["topics"] = Topics(**topic_values)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
