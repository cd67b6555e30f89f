"""Spam signals and model features: who posts a comment (author names, posting rate, first
sighting), when (long after the article), what the earlier stages found (links, duplicates),
and, from detect/content.py, what it says.

Each signal is a `Signal` with a stable reason code; the rule scorer weighs them and the learned
model sees them as features beside hashed word and character n-grams. Pure: no Kafka, no clock.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from streamproc.detect.content import content_signals
from streamproc.detect.model import PRIOR_NAME as PRIOR_NAME  # re-exported for the stages
from streamproc.detect.model import Feature as Feature
from streamproc.detect.ngrams import name_hash
from streamproc.detect.signal import Signal
from streamproc.detect.text import clean
from streamproc.events import Comment, StageResult

# Invisible or direction-changing characters beyond text.INVISIBLE: word joiners, bidi marks.
_EXTRA_INVISIBLE = dict.fromkeys(
    [*range(0x2061, 0x2065), 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x034F],
    None,
)


def prepare(text: str) -> str:
    """What a reader sees: HTML and entities decoded, invisible characters removed, NFKC."""
    return clean(text).translate(_EXTRA_INVISIBLE)


_WORD = re.compile(r"[^\W_]+", re.UNICODE)

# --- authors -------------------------------------------------------------------------------------
_STRONG_NAME_WORDS = frozenset(
    [
        "cheap",
        "buy",
        "loan",
        "loans",
        "seo",
        "casino",
        "viagra",
        "discount",
        "deals",
        "pharmacy",
        "followers",
        "sale",
        "shop",
        "replica",
        "bitcoin",
        "crypto",
        "forex",
        "insurance",
        "escort",
        "essay",
        "coupon",
        "promo",
        "marketing",
    ]
)
_WEAK_NAME_WORDS = frozenset(
    ["best", "online", "free", "services", "service", "official", "store", "outlet", "reviews", "price"]
)
_URLISH = re.compile(r"https?://|www\.|\.(?:com|net|org|info|biz|ru|in|co)\b", re.IGNORECASE)
_MACHINE = re.compile(r"^(?:[a-z]{1,12}[._-]?\d{5,}|[a-z0-9]{10,})$", re.IGNORECASE)
_VOWELS = set("aeiouy")

NAME_CACHE = 4096  # author names whose signals are kept: the same authors post again and again
RATE_WINDOW = 600.0  # seconds: a person rarely posts five comments in ten minutes
RATE_LIMIT = 5  # comments in the window, this one included, from which the rate is a signal
MAX_AUTHOR_ROWS = 64  # bounded state per author
AUTHOR_TTL = 30 * 86400.0  # an author unseen this long is "first seen" again, and their state goes
OUT_OF_ORDER = 3600.0  # an author's comment older than their last by more than this is clamped
LATE_DAYS = 30.0  # comments posted this long after the article are more often spam
TIMED_CAP = 0.3  # most that timestamp-derived signals add to a score (below any sane hold)


def name_signals(name: str | None) -> list[Signal]:
    """Signals in the author's display name: keyword stuffing, URLs, machine-made names."""
    return list(_name_signals(name)) if name else []


@lru_cache(maxsize=NAME_CACHE)
def _name_signals(name: str) -> tuple[Signal, ...]:
    out: list[Signal] = []
    words = [w.lower() for w in _WORD.findall(name)]
    strong = sorted({w for w in words if w in _STRONG_NAME_WORDS})
    weak = sorted({w for w in words if w in _WEAK_NAME_WORDS})
    if _URLISH.search(name) or len(strong) >= 2 or (strong and weak):
        out.append(Signal("author.keywords", "keyword-stuffed author name", 0.5, ", ".join(strong + weak)))
    elif len(weak) >= 2:
        out.append(Signal("author.keywords", "author name made of sales words", 0.35, ", ".join(weak)))
    elif strong:
        out.append(Signal("author.keywords", "commercial word in author name", 0.2, strong[0]))
    compact = name.replace(" ", "")
    letters = [c for c in compact.lower() if c.isalpha()]
    vowel_free = len(letters) >= 6 and not any(c in _VOWELS for c in letters)
    if _MACHINE.match(compact) and (sum(c.isdigit() for c in compact) >= 5 or vowel_free):
        out.append(Signal("author.machine_name", "machine-made author name", 0.15))
    return tuple(out)


@dataclass(slots=True, frozen=True)
class AuthorActivity:
    """What the author's recent history says about this comment."""

    first_seen: bool
    recent: int  # comments in RATE_WINDOW before and including this one


_TIME = operator.itemgetter(1)  # of an author row


def observe_author(
    rows: Sequence[Sequence[Any]], comment_id: str, at: float
) -> tuple[AuthorActivity, list[list[Any]]]:
    """Update an author's history ([comment_id, time] rows) with one comment.

    The clock is the comment's posted_at, guarded: a time far before the author's latest is
    clamped to the latest, so back-dated events cannot dodge the rate window. Re-delivery of the
    same comment id counts once (at-least-once delivery), so verdicts stay idempotent. Rows older
    than AUTHOR_TTL are forgotten here, so sweeping them from storage never changes a verdict.
    """
    others = [r if isinstance(r, list) else list(r) for r in rows if r[0] != comment_id]
    times = list(map(_TIME, others))  # one pass in C: histories hold up to MAX_AUTHOR_ROWS rows
    latest = max(times, default=at)
    t = latest if at < latest - OUT_OF_ORDER else at
    if times and min(times) < t - AUTHOR_TTL:  # rarely: most histories are younger than that
        others = [r for r in others if r[1] >= t - AUTHOR_TTL]
        times = list(map(_TIME, others))
    low, high = t - RATE_WINDOW, t + OUT_OF_ORDER
    recent = 1 + sum(low <= x <= high for x in times)
    first_seen = not others
    others.append([comment_id, t])
    others.sort(key=_TIME)
    return AuthorActivity(first_seen=first_seen, recent=recent), others[-MAX_AUTHOR_ROWS:]


def stale_authors(items: Iterable[tuple[str, Sequence[Sequence[Any]]]], now: float) -> list[str]:
    """Keys whose newest row is older than AUTHOR_TTL at `now`: safe to delete from storage."""
    return [
        key
        for key, rows in items
        if max((r[1] for r in rows if r[1] is not None), default=0.0) < now - AUTHOR_TTL
    ]


def author_signals(activity: AuthorActivity | None) -> list[Signal]:
    if activity is None:
        return []
    out = []
    if activity.first_seen:
        out.append(Signal("author.first_seen", "first comment seen from this author", 0.03))
    if activity.recent >= RATE_LIMIT:
        weight = min(0.35, 0.2 + 0.03 * (activity.recent - RATE_LIMIT))
        out.append(
            Signal(
                "behaviour.rate",
                f"{activity.recent} comments from this author in {RATE_WINDOW / 60:.0f} minutes",
                weight,
                str(activity.recent),
                timed=True,
            )
        )
    return out


def timing_signals(comment: Comment, has_links: bool) -> list[Signal]:
    """Posting long after the article (old threads are where link spam lands)."""
    if comment.thread_published_at is None:
        return []
    days = (comment.posted_at - comment.thread_published_at) / 86400
    if days < -1 / 24:
        return [Signal("timing.inconsistent", "posted before the article was published", 0.05, timed=True)]
    if days > LATE_DAYS:
        if has_links:
            return [
                Signal("timing.late_link", f"link posted {days:.0f} days after the article", 0.2, timed=True)
            ]
        return [Signal("timing.late", f"posted {days:.0f} days after the article", 0.05, timed=True)]
    return []


# --- upstream ------------------------------------------------------------------------------------
UPSTREAM = {
    "link.shortener": 0.45,
    "link.denied": 0.9,
    "link.ip_host": 0.4,
    "link.obfuscated": 0.5,
    "link.homograph": 0.6,
    "link.campaign": 0.55,
    "link.only": 0.35,
    "link.many": 0.25,
    "link.present": 0.2,
    "link.email": 0.25,
    "duplicate.author": 0.3,
    "duplicate.thread": 0.15,
    "duplicate.campaign": 0.35,
}
# Registrable domains whose words or suffix sell something: common in link spam, rare in links
# people share (news, encyclopedias, code hosts).
_COMMERCIAL_DOMAIN = re.compile(
    r"(?:cheap|deal|discount|loan|casino|pharma|pill|replica|outlet|sale|shop|store|buy|review|seo|promo"
    r"|bonus|bet|crypto|coin|trade|profit|earn|cash|money|free|best|offer|diet|slim|essay|follower)"
    r"|\.(?:shop|store|biz|info|xyz|top|online|site|club|click|win|bid|loan|party|racing|review)$"
    r"|^[^.]*-[^.]*-[^.]*\.",
    re.IGNORECASE,
)
# Free blog and site hosts where SEO spam keeps its landing pages.
_BLOG_HOSTS = (
    "blogspot.",
    "wordpress.com",
    "weebly.com",
    "wixsite.com",
    "tumblr.com",
    "medium.com",
    "sites.google.com",
)


def domain_signals(stages: Mapping[str, StageResult]) -> list[Signal]:
    """Signals in the names of the linked domains and hosts (from the link stage's data)."""
    links = stages.get("links")
    if links is None:
        return []
    out: list[Signal] = []
    rows = [
        r for r in links.data.get("links", ()) if isinstance(r, dict) and "allowed" not in r.get("flags", ())
    ]
    commercial = sorted(
        {str(r.get("domain")) for r in rows if _COMMERCIAL_DOMAIN.search(str(r.get("domain", "")))}
    )
    if commercial:
        out.append(
            Signal(
                "link.commercial_domain",
                f"link to a commercial-looking domain: {commercial[0]}",
                0.3,
                commercial[0],
            )
        )
    blogs = sorted(
        {str(r.get("host")) for r in rows if any(b in str(r.get("host", "")) for b in _BLOG_HOSTS)}
    )
    if blogs:
        out.append(Signal("link.blog_host", f"link to a free blog host: {blogs[0]}", 0.2, blogs[0]))
    return out


DUPLICATE_OTHER = 0.2
SHORT_TEXT_WORDS = 5
FLOOD_MATCHES = 3  # earlier copies from which even a short text counts in full  # short repeats ("great song!") are innocent more often than long ones


def upstream_signals(stages: Mapping[str, StageResult], words: int) -> list[Signal]:
    """Weigh the link and duplicate stages' reasons; near-duplicate codes weigh like exact ones."""
    out: list[Signal] = []
    for name in ("links", "duplicates"):
        result = stages.get(name)
        if result is None:
            continue
        for r in result.reasons:
            code = r.code
            if code == "duplicate.near":
                continue  # qualifies the repeat reasons beside it ("an edited copy"); no weight of its own
            base = code.replace("near_", "").replace(".near.", ".").replace(".near", ".")
            weight = UPSTREAM.get(code, UPSTREAM.get(base, 0.0))
            if not weight and code.startswith("duplicate.") and code != "duplicate.empty":
                weight = DUPLICATE_OTHER  # a repeat the duplicates stage names in a new way
            if weight and base != code:
                weight *= 0.9  # a near copy is a little less certain than an exact one
            if code.startswith("duplicate.") and weight:
                matches = result.data.get("matches", 1)
                matches = matches if isinstance(matches, int) and "author" in code else 1
                if words < SHORT_TEXT_WORDS and matches < FLOOD_MATCHES:
                    weight *= 0.5
                if "campaign" in code:
                    # Two people posting similar text once is weak evidence; a campaign spreads.
                    spread = result.data.get("matches", 1)
                    spread = spread if isinstance(spread, int) else 1
                    weight *= min(1.0, 0.4 + 0.3 * (spread - 1))
                # One author repeating a text again and again floods; many people repeating
                # "great song!" do not, so only the author's own repeats add up.
                weight = min(0.6, weight + 0.05 * (max(1, matches) - 1))
            if weight:
                out.append(Signal(code, r.text, weight, r.evidence))
    return out


def has_links(stages: Mapping[str, StageResult]) -> bool:
    links = stages.get("links")
    return bool(links and (links.data.get("links") or any(r.code.startswith("link.") for r in links.reasons)))


def all_signals(
    comment: Comment, stages: Mapping[str, StageResult], text: str, activity: AuthorActivity | None
) -> list[Signal]:
    """Every signal for one comment; `text` is the prepared text."""
    low = text.lower()
    words = _WORD.findall(low)
    linked = has_links(stages)
    return [
        *upstream_signals(stages, len(words)),
        *domain_signals(stages),
        *content_signals(text, has_links=linked, low=low, words=words),
        *name_signals(comment.author.name),
        *author_signals(activity),
        *timing_signals(comment, linked),
    ]


# --- model features ----------------------------------------------------------------------------
def hash_feature(name: str, bits: int) -> int:
    """The model bucket of a named feature."""
    return name_hash(name) & ((1 << bits) - 1)
