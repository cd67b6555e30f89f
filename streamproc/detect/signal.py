"""A named piece of spam evidence (`Signal`): what every signal module of the spam stage returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class Signal:
    """One named piece of evidence. `weight` is the rule weight in [0, 1); `timed` marks signals
    derived from the event's own timestamps, which must never decide a label on their own."""

    code: str
    text: str
    weight: float
    evidence: str | None = None
    timed: bool = False
