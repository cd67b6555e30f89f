"""Duplicate detection: repeats of earlier comments by the same author, in the same thread, or
across threads (a campaign), over a bounded time window.

The core is pure: state is a list of recent sightings per fingerprint, passed in and returned,
so the stage can keep it in a Faust table and tests in a dict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from streamproc.detect.text import normalise
from streamproc.events import Reason, StageResult

VERSION = "duplicates-1"
WINDOW_SECONDS = 7 * 24 * 3600.0  # a week: spam campaigns and double posts recur within days
MAX_SIGHTINGS = 32  # per fingerprint; enough to see a campaign, bounded against floods
MIN_CHARS = 3  # shorter normalised texts ("ok", "+1") repeat innocently


@dataclass(slots=True, frozen=True)
class Sighting:
    comment_id: str
    author: str | None
    thread_id: str
    at: float

    def to_list(self) -> list[Any]:
        return [self.comment_id, self.author, self.thread_id, self.at]

    @classmethod
    def from_list(cls, row: Sequence[Any]) -> Sighting:
        return cls(row[0], row[1], row[2], row[3])


def fingerprint(text: str) -> str | None:
    """Fingerprint of the normalised text; None for empty or too-short text."""
    norm = normalise(text)
    if len(norm) < MIN_CHARS:
        return None
    return hashlib.blake2b(norm.encode(), digest_size=12).hexdigest()


def _scope(new: Sighting, old: Sighting) -> str:
    if new.author is not None and new.author == old.author:
        return "author"
    if new.thread_id == old.thread_id:
        return "thread"
    return "campaign"


def check_duplicate(
    new: Sighting, fp: str | None, history: Sequence[Sighting], *, window: float = WINDOW_SECONDS
) -> tuple[StageResult, list[Sighting]]:
    """Compare a comment with earlier sightings of its fingerprint.

    Returns the verdict and the history to store (expired entries dropped, bounded).
    Re-delivery of the same comment id is not a duplicate of itself (at-least-once delivery).
    """
    if fp is None:
        reason = Reason("duplicate.empty", "empty or near-empty comment", 0.3)
        return StageResult("duplicates", "empty", 0.3, [reason], VERSION, {}), list(history)
    recent = [s for s in history if new.at - s.at <= window and s.comment_id != new.comment_id]
    data: dict[str, Any] = {"fingerprint": fp}
    if not recent:
        kept = [*recent, new][-MAX_SIGHTINGS:]
        return StageResult("duplicates", "unique", 0.0, [], VERSION, data), kept
    first = min(recent, key=lambda s: s.at)
    scopes = sorted({_scope(new, s) for s in recent})
    authors = {s.author for s in recent if s.author} | ({new.author} if new.author else set())
    threads = {s.thread_id for s in recent} | {new.thread_id}
    reasons = []
    if "author" in scopes:
        reasons.append(Reason("duplicate.author", "same author posted this text before", 0.5))
    if "thread" in scopes:
        reasons.append(Reason("duplicate.thread", "same text posted in this thread before", 0.4))
    if "campaign" in scopes:
        reasons.append(
            Reason(
                "duplicate.campaign",
                f"same text in {len(threads)} threads by {len(authors)} authors",
                0.6 if len(threads) > 2 else 0.4,
            )
        )
    data.update(
        {
            "similarity": 1.0,
            "kind": "exact",
            "scopes": scopes,
            "original_id": first.comment_id,
            "seconds_since": max(0.0, new.at - first.at),
            "matches": len(recent),
        }
    )
    score = min(1.0, max(r.weight for r in reasons) + 0.1 * (len(recent) - 1))
    kept = [*recent, new][-MAX_SIGHTINGS:]
    return StageResult("duplicates", "duplicate", score, reasons, VERSION, data), kept
