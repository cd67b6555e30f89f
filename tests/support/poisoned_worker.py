"""`python -m tests.support.poisoned_worker worker ...`: the streamproc CLI with cores that fail on
purpose for marked comments (poison pills), so a test can show what a real worker does with a
comment that crashes a detection core or the state layer: dead-letter it, hold it, go on.

Markers in the comment text: POISON-LINKS (the link core raises), POISON-STATE (the duplicate
index raises where the state partition is served), POISON-SPAM (the spam core raises).
"""

from __future__ import annotations

import sys
from typing import Any

import streamproc.stages as stages
import streamproc.stages.links as links_stage
import streamproc.stages.spam as spam_stage
from streamproc.cli import main
from streamproc.detect.duplicates import Probe, decompress


class Poison(RuntimeError):
    """Raised on purpose by a poisoned core."""


def _poisoned(original: Any, marker: str, text_of: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        if marker in text_of(*args, **kwargs):
            raise Poison(f"{marker} on purpose")
        return original(*args, **kwargs)

    return call


links_stage.assess_links = _poisoned(links_stage.assess_links, "POISON-LINKS", lambda text, *a, **k: text)
spam_stage.score_spam = _poisoned(spam_stage.score_spam, "POISON-SPAM", lambda comment, *a, **k: comment.text)


def _probe_text(probe: Probe | dict[str, Any]) -> str:
    """The normalised text of a duplicate probe: an object where the state is served in place,
    its wire form where it came in a request."""
    if isinstance(probe, dict):
        probe = Probe.from_dict(probe)
    return decompress(probe.text)


stages.APPLY["index"] = _poisoned(
    stages.APPLY["index"],
    "poison state",
    lambda shard, payload, ctx: _probe_text(payload[0]),
)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
