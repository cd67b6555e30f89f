"""What each stage computes from an envelope: the one implementation used by the Faust stages
and by the offline tools (`check`). No Kafka here."""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from streamproc.config import Settings
from streamproc.detect.decide import Thresholds, decide
from streamproc.detect.duplicates import Sighting, check_duplicate, fingerprint
from streamproc.detect.links import SHORTENERS, DomainLists, assess_links
from streamproc.detect.spam import score_spam
from streamproc.errors import ConfigError
from streamproc.events import Envelope, StageResult

History = MutableMapping[str, Any]  # fingerprint -> list of sighting rows (a Faust table or a dict)


def load_domain_lists(path: str) -> DomainLists:
    """Read deny/allow/shortener lists from a JSON file; empty path gives the defaults."""
    if not path:
        return DomainLists()
    try:
        obj = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError(f"domain_lists file {path!r} could not be read as JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ConfigError(f"domain_lists file {path!r} must hold a JSON object")
    return DomainLists(
        deny=frozenset(d.lower() for d in obj.get("deny", ())),
        allow=frozenset(d.lower() for d in obj.get("allow", ())),
        shorteners=SHORTENERS | frozenset(d.lower() for d in obj.get("shorteners", ())),
    )


@dataclass(slots=True)
class StageLogic:
    """The detection logic of all stages, configured once per worker."""

    settings: Settings
    lists: DomainLists = field(init=False)
    thresholds: Thresholds = field(init=False)

    def __post_init__(self) -> None:
        self.lists = load_domain_lists(self.settings.domain_lists)
        self.thresholds = Thresholds(self.settings.hold_threshold, self.settings.reject_threshold)

    def links(self, env: Envelope) -> StageResult:
        return assess_links(env.comment.text, self.lists)

    @staticmethod
    def duplicate_key(env: Envelope) -> str | None:
        """The state key (fingerprint) of a comment, or None when it has none (empty text)."""
        return fingerprint(env.comment.text)

    def duplicates(self, env: Envelope, key: str | None, history: History) -> StageResult:
        """Check against and update `history` (fingerprint -> sighting rows)."""
        c = env.comment
        new = Sighting(c.id, c.author_key, c.thread_id, c.posted_at)
        rows = history.get(key, []) if key is not None else []
        result, kept = check_duplicate(
            new, key, [Sighting.from_list(r) for r in rows], window=self.settings.duplicate_window
        )
        if key is not None:
            history[key] = [s.to_list() for s in kept]
        return result

    def spam(self, env: Envelope) -> StageResult:
        return score_spam(env.comment, env.stages)

    def decide(self, env: Envelope) -> tuple[str, StageResult]:
        return decide(env.stages, self.thresholds)

    def run_all(self, env: Envelope, history: History) -> tuple[str, StageResult]:
        """All stages in order, as the streaming pipeline chains them (used by `check`)."""
        env.stages["links"] = self.links(env)
        env.stages["duplicates"] = self.duplicates(env, self.duplicate_key(env), history)
        env.stages["spam"] = self.spam(env)
        return self.decide(env)
