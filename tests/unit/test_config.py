"""Settings from the environment, validation with messages that name the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamproc.config import Settings, Topics, load_settings
from streamproc.errors import ConfigError


def test_defaults_and_environment() -> None:
    s = load_settings(
        {
            "STREAMPROC_BROKERS": "a:9092,kafka://b:9093",
            "STREAMPROC_PARTITIONS": "8",
            "STREAMPROC_STAGES": "spam,duplicates",
            "STREAMPROC_TOPIC_VERDICTS": "site.verdicts",
            "STREAMPROC_SASL_PASSWORD": "hunter2",
        }
    )
    assert s.partitions == 8
    assert s.stages == ("spam", "duplicates")
    assert s.group_id == "streamproc-duplicates-spam"  # travel order, whatever order was given
    assert s.broker_urls == "kafka://a:9092;kafka://b:9093"
    assert s.bootstrap_servers == ["a:9092", "b:9093"]
    assert s.topics.verdicts == "site.verdicts" and s.topics.comments == Topics().comments
    assert "hunter2" not in repr(s)


def test_overrides_win_over_environment() -> None:
    s = load_settings({"STREAMPROC_PARTITIONS": "8"}, partitions=2)
    assert s.partitions == 2


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STREAMPROC_PARTITIONS": "many"}, "STREAMPROC_PARTITIONS"),
        ({"STREAMPROC_STAGES": "links,nope"}, "choose from"),
        ({"STREAMPROC_STAGES": "links,spam"}, "not consecutive"),
        ({"STREAMPROC_SECURITY_PROTOCOL": "TLS"}, "choose from PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
        ({"STREAMPROC_SASL_MECHANISM": "GSSAPI"}, "choose from PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"),
        ({"STREAMPROC_SECURITY_PROTOCOL": "SASL_SSL"}, "needs STREAMPROC_SASL_USERNAME"),
        (
            {"STREAMPROC_SECURITY_PROTOCOL": "SSL", "STREAMPROC_SSL_CAFILE": "/nonexistent/ca.pem"},
            "ssl_cafile",
        ),
        ({"STREAMPROC_SSL_KEYFILE": "k.pem"}, "without ssl_certfile"),
        ({"STREAMPROC_STALL_ACTION": "panic"}, "choose from restart, exit"),
        ({"STREAMPROC_SASL_PASSWORD_FILE": "/nonexistent/secret"}, "cannot be read"),
        ({"STREAMPROC_HOLD_THRESHOLD": "0.9", "STREAMPROC_REJECT_THRESHOLD": "0.5"}, "hold_threshold"),
        ({"STREAMPROC_STORE": "redis://"}, "rocksdb://"),
        ({"STREAMPROC_MAX_IN_FLIGHT": "0"}, "max_in_flight must be at least 1"),
        ({"STREAMPROC_GROUP_LAG_SECONDS": "0"}, "group_lag_seconds must be positive"),
    ],
)
def test_bad_settings_say_what_to_fix(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env)


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().partitions = 3  # type: ignore[misc]


def test_each_stage_group_gets_its_own_consumer_group() -> None:
    assert Settings().group_id == "streamproc"
    front = Settings(stages=("duplicates", "links"))
    back = Settings(stages=("spam", "decide"))
    assert front.group_id == "streamproc-links-duplicates"
    assert back.group_id == "streamproc-spam-decide"


def test_security_settings_are_canonical_and_secrets_come_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret-value\n")
    s = load_settings(
        {
            "STREAMPROC_SECURITY_PROTOCOL": "sasl_plaintext",
            "STREAMPROC_SASL_MECHANISM": "scram-sha-512",
            "STREAMPROC_SASL_USERNAME": "worker",
            "STREAMPROC_SASL_PASSWORD_FILE": str(secret),
        }
    )
    assert (s.security_protocol, s.sasl_mechanism) == ("SASL_PLAINTEXT", "SCRAM-SHA-512")
    assert s.sasl_password.value == "s3cret-value"  # without the file's final newline
    assert "s3cret" not in repr(s) and "s3cret" not in str(s)


def test_a_setting_and_its_file_together_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("x")
    with pytest.raises(ConfigError, match="both STREAMPROC_SASL_PASSWORD and STREAMPROC_SASL_PASSWORD_FILE"):
        load_settings({"STREAMPROC_SASL_PASSWORD": "y", "STREAMPROC_SASL_PASSWORD_FILE": str(secret)})


def test_a_bad_secret_file_error_names_the_path_not_the_content(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"STREAMPROC_SASL_PASSWORD_FILE": str(tmp_path / "missing")})
    assert str(tmp_path / "missing") in str(info.value)
