"""The stages, each a thin step around its detection core (see stage.py), in travel order."""

from __future__ import annotations

from streamproc.config import Settings
from streamproc.stages.decide import DecideStage
from streamproc.stages.duplicates import DuplicatesStage, apply_index
from streamproc.stages.links import LinksStage, apply_campaign
from streamproc.stages.spam import SpamStage, apply_author
from streamproc.stages.stage import Apply, Stage
from streamproc.topology import Group

STAGE_CLASSES = {"links": LinksStage, "duplicates": DuplicatesStage, "spam": SpamStage, "decide": DecideStage}
# Where each kind of keyed state is served: the stage that owns the kind provides its operation.
APPLY: dict[str, Apply] = {"campaigns": apply_campaign, "index": apply_index, "authors": apply_author}


def build_stages(settings: Settings, group: Group) -> list[Stage]:
    """The stage steps of a group, configured, in travel order."""
    return [STAGE_CLASSES[spec.name](settings) for spec in group.stages]
