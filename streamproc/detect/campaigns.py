"""Domain campaigns: the same registrable domain linked from many comments, threads or authors in
a recent window. Pure core; the state is any MutableMapping (a Faust table keyed by domain in the
stream, a dict offline) and the clock is passed in."""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from streamproc.detect.urls import data_lines

# Domains that ordinary people link from everywhere; many comments linking them is no campaign.
COMMON_DOMAINS = frozenset(data_lines("common_domains.txt"))

# domain -> rows [comment_id, author, thread_id, time, comments, authors, threads] (the last three:
# the answer the comment got)
CampaignState = MutableMapping[str, Any]


@dataclass(frozen=True, slots=True)
class CampaignRules:
    """When a domain's recent sightings make a campaign, and how much is kept per domain."""

    window: float = 24 * 3600.0  # seconds a sighting counts; spam runs are hours, not weeks
    max_rows: int = 64  # sightings kept per domain: enough to count past every threshold below
    min_comments: int = 4  # this comment included
    min_authors: int = 3  # distinct known authors among those comments
    min_threads: int = 3  # or distinct threads
    flood_comments: int = 12  # this many comments in the window is a campaign on its own


DEFAULT_RULES = CampaignRules()


@dataclass(frozen=True, slots=True)
class Sightings:
    """What the window holds for a domain, this comment included."""

    comments: int
    authors: int
    threads: int

    def is_campaign(self, rules: CampaignRules) -> bool:
        if self.comments >= rules.flood_comments:
            return True
        return self.comments >= rules.min_comments and (
            self.authors >= rules.min_authors or self.threads >= rules.min_threads
        )


def observe(
    state: CampaignState,
    domain: str,
    comment_id: str,
    author: str | None,
    thread_id: str,
    now: float,
    rules: CampaignRules = DEFAULT_RULES,
) -> Sightings:
    """Record one comment linking `domain` at time `now` and count the window up to `now`.

    Idempotent for a redelivered comment (same id): its row keeps the answer it got, which is
    given again. Late comments (posted before it, recorded after it) would otherwise change the
    count between the first judgement and the next.
    """
    kept = state.get(domain, ())
    mine = next((r for r in kept if r[0] == comment_id and len(r) >= 7), None)
    if mine is not None:
        return Sightings(comments=mine[4], authors=mine[5], threads=mine[6])
    rows = [r for r in kept if r[3] >= now - rules.window and r[0] != comment_id]
    in_order = not rows or (rows[-1][3], rows[-1][0]) <= (now, comment_id)
    row = [comment_id, author, thread_id, now]
    rows.append(row)
    if not in_order:  # rows are kept in time order; only a late comment needs a sort
        rows.sort(key=lambda r: (r[3], r[0]))
    rows = rows[-rules.max_rows :]
    seen = [r for r in rows if r[3] <= now]
    answer = Sightings(
        comments=len(seen),
        authors=len({r[1] for r in seen if r[1] is not None}),
        threads=len({r[2] for r in seen}),
    )
    row.extend((answer.comments, answer.authors, answer.threads))  # given again on redelivery
    state[domain] = rows
    return answer


def stale_domains(
    items: Iterable[tuple[str, Any]], now: float, rules: CampaignRules = DEFAULT_RULES
) -> list[str]:
    """Domains with no sighting inside the window: safe to drop, `observe` would ignore them."""
    cutoff = now - rules.window
    return [d for d, rows in items if not rows or max(r[3] for r in rows) < cutoff]


def expire(state: CampaignState, now: float, rules: CampaignRules = DEFAULT_RULES) -> int:
    """Drop domains with no sighting inside the window; returns how many were dropped."""
    stale = stale_domains(state.items(), now, rules)
    for domain in stale:
        del state[domain]
    return len(stale)
