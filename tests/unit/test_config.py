"""Settings from the environment, validation with messages that name the fix."""

from __future__ import annotations

import pytest

from streamproc.config import Settings, Topics, load_settings
from streamproc.errors import ConfigError


def test_defaults_and_environment() -> None:
    s = load_settings(
        {
            "STREAMPROC_BROKERS": "a:9092,kafka://b:9093",
            "STREAMPROC_PARTITIONS": "8",
            "STREAMPROC_STAGES": "links,spam",
            "STREAMPROC_TOPIC_VERDICTS": "site.verdicts",
            "STREAMPROC_SASL_PASSWORD": "hunter2",
        }
    )
    assert s.partitions == 8
    assert s.stages == ("links", "spam")
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
        ({"STREAMPROC_HOLD_THRESHOLD": "0.9", "STREAMPROC_REJECT_THRESHOLD": "0.5"}, "hold_threshold"),
        ({"STREAMPROC_STORE": "redis://"}, "rocksdb://"),
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
