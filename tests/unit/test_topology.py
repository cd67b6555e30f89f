"""The topology is declared once (streamproc/topology.py); the README, the stages and the stream
read it, and stage groups are consecutive stages with their own consumer group and topics."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streamproc.config import Settings
from streamproc.errors import ConfigError
from streamproc.stages import APPLY, STAGE_CLASSES, build_stages
from streamproc.topology import STAGE_NAMES, STAGES, STATE_KINDS, all_groups, diagram, group_for

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_shows_the_declared_topology() -> None:
    text = README.read_text()
    block = re.search(r"<!-- topology:[^>]*-->\n(.*?)\n<!-- /topology -->", text, re.S)
    assert block is not None, "README lost its topology block"
    assert block.group(1).strip() == diagram()


def test_every_stage_has_a_step_and_every_state_kind_an_operation() -> None:
    assert list(STAGE_CLASSES) == list(STAGE_NAMES)
    assert set(APPLY) == set(STATE_KINDS) == {k for s in STAGES for k in s.state}
    assert [s.spec for s in build_stages(Settings(), group_for(STAGE_NAMES, "x"))] == list(STAGES)


@pytest.mark.parametrize(
    ("stages", "group_id", "input_role", "outputs"),
    [
        (
            ("links", "duplicates", "spam", "decide"),
            "app",
            "comments",
            ("links", "duplicates", "spam", "verdicts"),
        ),
        (("links", "duplicates"), "app-links-duplicates", "comments", ("links", "duplicates")),
        (("decide", "spam"), "app-spam-decide", "duplicates", ("spam", "verdicts")),
        (("duplicates",), "app-duplicates", "links", ("duplicates",)),
    ],
)
def test_groups(stages: tuple[str, ...], group_id: str, input_role: str, outputs: tuple[str, ...]) -> None:
    group = group_for(stages, "app")
    assert (group.group_id, group.input, group.outputs) == (group_id, input_role, outputs)


def test_internal_topics_belong_to_groups_with_state() -> None:
    assert group_for(("decide",), "app").internal_topics == ()
    spam = group_for(("spam", "decide"), "app")
    assert spam.internal_topics == (
        "app-spam-decide-state-changelog",
        "app-spam-decide-state-requests",
        "app-spam-decide-state-replies",
    )
    assert spam.feedback_queue == "app-spam-decide-spam-feedback"
    assert group_for(("links",), "app").feedback_queue is None


def test_stages_must_be_consecutive() -> None:
    with pytest.raises(ConfigError, match="not consecutive"):
        group_for(("links", "decide"), "app")
    assert len(all_groups("app")) == 10  # every run of consecutive stages of four
