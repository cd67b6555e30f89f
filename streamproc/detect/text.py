"""Text normalisation shared by the detection cores."""

from __future__ import annotations

import html
import re
import unicodedata

# Invisible characters spammers put inside words and hosts to dodge filters.
INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)
_TAG = re.compile(r"<[^>]{0,2000}>")
_SPACE = re.compile(r"\s+")
_PUNCT_RUN = re.compile(r"[^\w\s]+")


def strip_invisible(text: str) -> str:
    return text.translate(INVISIBLE)


def decode_html(text: str) -> str:
    """Drop tags and decode entities, so `&#46;` and `<b>` do not hide what a reader sees."""
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    return text


def clean(text: str) -> str:
    """What a reader sees: HTML decoded, invisible characters removed, NFKC-folded."""
    return unicodedata.normalize("NFKC", strip_invisible(decode_html(text)))


def normalise(text: str) -> str:
    """Canonical form for duplicate detection: cleaned, case-folded, punctuation runs and
    whitespace collapsed to single spaces."""
    text = clean(text).casefold()
    text = _PUNCT_RUN.sub(" ", text)
    return _SPACE.sub(" ", text).strip()
