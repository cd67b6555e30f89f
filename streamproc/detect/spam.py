"""Spam scoring: combine link, duplicate and content signals into a score in [0, 1] with reasons."""

from __future__ import annotations

import re
from collections.abc import Mapping

from streamproc.detect.text import clean
from streamproc.events import Comment, Reason, StageResult

VERSION = "spam-rules-1"

_PROMO = re.compile(
    r"\b(?:check out my|visit my|subscribe to my|subscribe|my channel|follow me|click here"
    r"|buy now|best price|cheap|discount|free money|earn \$?\d+|work from home|make money"
    r"|read more at|nice (?:blog|post|article)|great (?:blog|post|article)|casino|viagra|loans?)\b",
    re.IGNORECASE,
)
# Signals from earlier stages: reason code -> weight in the spam score.
_UPSTREAM = {
    "link.shortener": 0.45,
    "link.denied": 0.9,
    "link.ip_host": 0.4,
    "link.obfuscated": 0.5,
    "link.many": 0.25,
    "link.present": 0.15,
    "link.email": 0.2,
    "duplicate.author": 0.3,
    "duplicate.thread": 0.25,
    "duplicate.campaign": 0.45,
}
LATE_DAYS = 30.0  # comments posted this long after the article are more often spam


def score_spam(comment: Comment, stages: Mapping[str, StageResult]) -> StageResult:
    """The spam stage's verdict from the comment and the results of the earlier stages."""
    reasons: list[Reason] = []
    for result in stages.values():
        for r in result.reasons:
            weight = _UPSTREAM.get(r.code)
            if weight:
                reasons.append(Reason(r.code, r.text, weight, r.evidence))
    text = clean(comment.text)
    promo = sorted({m.group(0).lower() for m in _PROMO.finditer(text)})
    if promo:
        weight = min(0.6, 0.3 * len(promo))
        reasons.append(Reason("content.promotional", f"promotional phrasing: {', '.join(promo)}", weight))
    letters = sum(c.isalpha() for c in text)
    upper = sum(c.isupper() for c in text)
    if letters >= 20 and upper / letters > 0.7:
        reasons.append(Reason("content.shouting", "mostly capital letters", 0.2))
    has_links = bool(stages.get("links") and stages["links"].data.get("links"))
    if comment.thread_published_at is not None and has_links:
        days = (comment.posted_at - comment.thread_published_at) / 86400
        if days > LATE_DAYS:
            reasons.append(Reason("timing.late_link", f"link posted {days:.0f} days after the article", 0.2))
    # Noisy-OR: independent pieces of evidence add up without passing 1.
    remaining = 1.0
    for r in reasons:
        remaining *= 1.0 - min(r.weight, 0.99)
    score = 1.0 - remaining
    reasons.sort(key=lambda r: -r.weight)
    label = "spam" if score >= 0.7 else "suspicious" if score >= 0.4 else "ham"
    return StageResult("spam", label, score, reasons, VERSION, {})
