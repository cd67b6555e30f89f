"""Spam signals and model features: what a comment says (calls to action, contact details, money,
SEO phrasing, shouting), who posts it (author names, posting rate, first sighting), when (long
after the article) and what the earlier stages found (links, duplicates).

Each signal is a `Signal` with a stable reason code; the rule scorer weighs them and the learned
model sees them as features beside hashed word and character n-grams. Pure: no Kafka, no clock.
"""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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


@dataclass(slots=True, frozen=True)
class Signal:
    """One named piece of evidence. `weight` is the rule weight in [0, 1); `timed` marks signals
    derived from the event's own timestamps, which must never decide a label on their own."""

    code: str
    text: str
    weight: float
    evidence: str | None = None
    timed: bool = False


# --- content -------------------------------------------------------------------------------------
# (code, human text, base weight, pattern). Patterns are phrased as real spam phrases them:
# self-promotion on video sites, SEO link drops on blogs, scams with contact details.
_RULES: list[tuple[str, str, float, re.Pattern[str]]] = [
    (
        "content.self_promo",
        "self-promotion",
        0.5,
        # Phrased as spam phrases it, not as people talk: "this is my song" and "support our
        # troops" are ordinary comments, "my new song" and "support my channel" are not.
        re.compile(
            r"\b(?:check\s*(?:out\s+)?(?:my|our)|checkout\s+my|visit\s+(?:my|our)|go\s+to\s+my"
            r"|my\s+(?:youtube\s+|new\s+)?channel|subscribe\s+(?:to\s+)?(?:me|my|our|us)"
            r"|sub\s*(?:4|for)\s*sub|sub\s+(?:to\s+me|back)|follow\s+(?:me|us)\s+on"
            r"|my\s+(?:blog|website|site|web\s+page|page|shop|store|mixtape|soundcloud)"
            r"|my\s+new\s+(?:song|video|music|mixtape|album|track|cover|single|vlog)"
            r"|(?:please|plz|pls)\s+(?:like|share|subscribe|support)"
            r"|(?:please|plz|pls)\s+(?:check|watch|listen\s+to|visit|view)\s+(?:out\s+)?(?:my|our)"
            r"|like\s+(?:and|&)\s+(?:share|subscribe)|subscribe\s*(?:!|now|please|pls|plz)"
            r"|give\s+(?:me|us|my\s+\w+)\s+a\s+(?:like|thumbs\s+up|chance|listen|watch|try|view)"
            r"|give\s+(?:it|this)\s+a\s+(?:like|thumbs\s+up)|thumbs\s+up\s+so|like\s+this\s+comment\s+(?:so|if)"
            r"|check\s*(?:out\s+)?this\s+(?:new\s+)?(?:youtube\s+)?(?:video|channel|song|site|website|page|link|cover|track|playlist)"
            r"|(?:reach|hit|get(?:\s+to)?)\s+\d[\d,.]*k?\s+(?:subs|subscribers)\b"
            r"|(?:new|small|upcoming|aspiring)\s+(?:youtuber|rapper|artist|singer)"
            r"|support\s+(?:me|my\s+(?:channel|music|page|work|video)))\b",
        ),
    ),
    (
        "content.call_to_action",
        "call to action",
        0.4,
        re.compile(
            r"\b(?:click\s+(?:here|the\s+link|on\s+(?:the|this|my)\s+link|below|this\s+link|now)"
            r"|visit\s+(?:this|the)\s+(?:site|website|page|link)|link\s+(?:in|on)\s+(?:my\s+)?(?:bio|profile|description)"
            r"|read\s+more\s+(?:at|here)|(?:more|full)\s+(?:info|information|details)\s+(?:at|here)"
            r"|sign\s+up\s+(?:now|here|today|free)|register\s+(?:now|here|today)|order\s+(?:now|today)"
            r"|buy\s+now|shop\s+now|download\s+(?:now|free|here)|limited\s+(?:time\s+)?offer"
            r"|watch\s+free\b|search\s+\S+\s+on\s+(?:google|youtube)"
            r"|visit\s+(?:https?://|www\.)|(?:go|head)\s+to\s+(?:https?://|www\.))",
        ),
    ),
    (
        "content.money",
        "money, prizes or easy income",
        0.35,
        # Not "prize" or "won a" alone: news readers discuss Nobel prizes and won matches.
        re.compile(
            r"\b(?:(?:make|earn|earning|making)\s+(?:easy\s+|extra\s+|real\s+)?(?:money|cash|income|\$)"
            r"|(?:per|a|every)\s+(?:day|week|hour)\s+(?:from|at|working)\s+home|work(?:ing)?\s+from\s+home"
            r"|(?:free|win\s+a|won\s+a|win\s+an|won\s+an)\s+(?:new\s+)?(?:gift\s*cards?|iphone|ipad|laptop|money|cash|bitcoin|followers|prize|vacation|trip)"
            r"|gift\s*cards?|you\s+(?:have\s+)?won|claim\s+your|cash\s+prize|jackpot|casino"
            r"|(?:bitcoin|crypto|forex|binary\s+options?)\s+(?:trading|investment|profit|mining|platform|signals)"
            r"|invest(?:ment)?\s+(?:platform|opportunity|manager|plan)|guaranteed\s+(?:profit|income|returns?)"
            r"|passive\s+income|loans?\s+(?:fast|online|approved|offer)|(?:payday|instant)\s+loans?)\b",
        ),
    ),
    (
        "content.contact",
        "contact details",
        0.35,
        re.compile(
            r"\b(?:whats\s?app\b|telegram\b|wickr\b|kik\b|viber\b"
            r"|(?:dm|pm|inbox|text|email|e-mail|contact|message|add)\s+(?:me|us)\b|call\s+(?:me|us|now|today)\b)"
            # Phone numbers: the lookahead skips every position that cannot start one (fast).
            r"|(?=[+(\d])(?:\+\d{1,3}[\s.-]?)?\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b|\+\d{9,14}\b",
        ),
    ),
    (
        "content.seo",
        "SEO phrasing",
        0.2,  # people praise articles too; it counts with a link or a second phrase
        re.compile(
            r"\b(?:(?:nice|great|good|awesome|informative|useful|helpful|wonderful)\s+(?:blog|post|article|site|website|information|info|content)"
            r"(?:\s+(?:post|article|site))?|thanks?\s+(?:you\s+)?for\s+(?:sharing|this\s+(?:post|article|info))"
            r"|keep\s+(?:it\s+up|posting|sharing|blogging)|(?:your|this)\s+(?:blog|website)\s+(?:is|was)"
            r"|i\s+(?:have\s+)?(?:just\s+)?(?:visited|bookmarked|followed)\s+(?:your|this)"
            r"|best\s+\w+\s+(?:services?|reviews?|deals?|company|online|prices?)|seo|backlinks?"
            r"|(?:find|get|see)\s+(?:the\s+)?best\s+\w+"
            r"|(?:more|visitors?|traffic)\s+to\s+your\s+(?:site|website|blog))\b",
        ),
    ),
    (
        "content.commercial",
        "commercial spam vocabulary",
        0.45,
        # Not "pills" or "pharmacy" alone: health threads mention both.
        re.compile(
            r"\b(?:viagra|cialis|online\s+pharmacy|pharmacy\s+online|(?:diet|slimming|enlargement|cheap|generic)\s+pills?"
            r"|replica\s+(?:watches|bags|handbags|rolex)|weight\s+loss\s+(?:pills|supplements?|products?)|essay\s+writing"
            r"|buy\s+(?:cheap|followers|likes|views|subscribers)|cheap\s+\w+\s+(?:online|for\s+sale)"
            r"|(?:followers|likes|views|subscribers)\s+(?:fast|cheap|instantly)|for\s+sale\s+online"
            r"|(?:free|real)\s+(?:instagram\s+|youtube\s+|twitter\s+)?(?:followers|subscribers|likes|views)"
            r"|discount\s+code|promo\s+code|coupon\s+code|best\s+price|\d+\s?%\s+off"
            r"|free\s+(?:shipping|installation|delivery|worldwide\s+shipping)|no\s+(?:credit\s+check|prescription)"
            r"|approval\s+in\s+\d+|lowest\s+prices?)\b",
        ),
    ),
]
_AMOUNT = re.compile(r"[$€£]\s?\d[\d,.]*\s?k?\b|\b\d[\d,.]*\s?(?:dollars|usd|euros?|bucks)\b", re.IGNORECASE)
_PUNCT_RUN = re.compile(r"[!?$*#@.]{4,}|[!?]{3,}")
_CHAR_RUN = re.compile(r"(\w)\1{4,}")
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

RATE_WINDOW = 600.0  # seconds: a person rarely posts five comments in ten minutes
RATE_LIMIT = 5  # comments in the window, this one included, from which the rate is a signal
MAX_AUTHOR_ROWS = 64  # bounded state per author
AUTHOR_TTL = 30 * 86400.0  # an author unseen this long is "first seen" again, and their state goes
OUT_OF_ORDER = 3600.0  # an author's comment older than their last by more than this is clamped
LATE_DAYS = 30.0  # comments posted this long after the article are more often spam
TIMED_CAP = 0.3  # most that timestamp-derived signals add to a score (below any sane hold)


def content_signals(text: str) -> list[Signal]:
    """Signals in what the comment says and how it is written; `text` is already prepared."""
    out: list[Signal] = []
    low = text.lower()  # the patterns are lower case: much faster than re.IGNORECASE
    for code, label, base, pattern in _RULES:
        hits = sorted({" ".join(m.group(0).split()) for m in pattern.finditer(low)})
        if hits:
            weight = min(0.8, base + 0.15 * (len(hits) - 1))
            out.append(Signal(code, f"{label}: {', '.join(hits[:4])}", weight, hits[0]))
    if _AMOUNT.search(text):
        # People quote prices too: an amount is weak alone and counts with other signals.
        out.append(Signal("content.amount", "money amount", 0.12))
    letters = sum(map(str.isalpha, text))
    upper = sum(map(str.isupper, text))
    if letters >= 12 and upper / letters > 0.7:
        out.append(Signal("content.shouting", "mostly capital letters", 0.1))
    if _PUNCT_RUN.search(text):
        out.append(Signal("content.punctuation", "runs of repeated punctuation", 0.05))
    if _CHAR_RUN.search(text):
        out.append(Signal("content.repeated_chars", "runs of one repeated character", 0.05))
    visible = len(text) - sum(map(str.isspace, text))
    if visible >= 10 and letters / visible < 0.4:
        out.append(Signal("content.non_letters", "mostly symbols and digits", 0.2))
    return out


def name_signals(name: str | None) -> list[Signal]:
    """Signals in the author's display name: keyword stuffing, URLs, machine-made names."""
    if not name:
        return []
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
    return out


@dataclass(slots=True, frozen=True)
class AuthorActivity:
    """What the author's recent history says about this comment."""

    first_seen: bool
    recent: int  # comments in RATE_WINDOW before and including this one


def observe_author(
    rows: Sequence[Sequence[Any]], comment_id: str, at: float
) -> tuple[AuthorActivity, list[list[Any]]]:
    """Update an author's history ([comment_id, time] rows) with one comment.

    The clock is the comment's posted_at, guarded: a time far before the author's latest is
    clamped to the latest, so back-dated events cannot dodge the rate window. Re-delivery of the
    same comment id counts once (at-least-once delivery), so verdicts stay idempotent. Rows older
    than AUTHOR_TTL are forgotten here, so sweeping them from storage never changes a verdict.
    """
    others = [list(r) for r in rows if r[0] != comment_id]
    latest = max((r[1] for r in others), default=at)
    t = latest if at < latest - OUT_OF_ORDER else at
    others = [r for r in others if r[1] >= t - AUTHOR_TTL]
    recent = 1 + sum(1 for r in others if t - RATE_WINDOW <= r[1] <= t + OUT_OF_ORDER)
    kept = sorted([*others, [comment_id, t]], key=lambda r: r[1])[-MAX_AUTHOR_ROWS:]
    return AuthorActivity(first_seen=not others, recent=recent), kept


def stale_authors(items: Iterable[tuple[str, Sequence[Sequence[Any]]]], now: float) -> list[str]:
    """Keys whose newest row is older than AUTHOR_TTL at `now`: safe to delete from storage."""
    return [key for key, rows in items if not rows or max(r[1] for r in rows) < now - AUTHOR_TTL]


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
    words = len(_WORD.findall(text))
    return [
        *upstream_signals(stages, words),
        *domain_signals(stages),
        *content_signals(text),
        *name_signals(comment.author.name),
        *author_signals(activity),
        *timing_signals(comment, has_links(stages)),
    ]


# --- hashed n-grams ------------------------------------------------------------------------------
_DIGITS = re.compile(r"\d")
_SPACES = re.compile(r"\s+")
Feature = tuple[str, float]  # (name, value)
PRIOR_NAME = "rules.prior"  # the model feature carrying the rule score (as a logit)


def text_features(text: str) -> list[Feature]:
    """Word uni- and bigrams and character 4-grams of the prepared text, each group scaled to
    unit length so that long comments do not dominate the dot product."""
    low = _DIGITS.sub("0", text.casefold())
    words = _WORD.findall(low)
    grams = [f"w:{w}" for w in words]
    grams += [f"b:{a} {b}" for a, b in itertools.pairwise(words)]
    squashed = " " + _SPACES.sub(" ", low).strip() + " "
    chars = [f"c:{squashed[i : i + 4]}" for i in range(len(squashed) - 3)]
    out: list[Feature] = []
    for group in (grams, chars):
        if group:
            counts = Counter(group)  # counted in C
            norm = 1.0 / math.sqrt(sum(c * c for c in counts.values()))
            out.extend((g, c * norm) for g, c in counts.items())
    return out


def hash_feature(name: str, bits: int) -> int:
    """Stable across processes (Python's hash() is salted per process)."""
    return zlib.crc32(name.encode()) & ((1 << bits) - 1)
