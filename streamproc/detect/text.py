"""Text normalisation shared by the detection cores."""

from __future__ import annotations

import html
import re
import unicodedata

from streamproc.detect.native import C as _kernels

# Invisible characters spammers put inside words and hosts to dodge filters.
INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)
_TAG = re.compile(r"<[^>]{0,2000}>")
_SPACE = re.compile(r"\s+")
_PUNCT_RUN = re.compile(r"[^\w\s]+")


def strip_invisible(text: str) -> str:
    if text.isascii():  # none of them is ASCII, and translating costs more than normalising ASCII
        return text
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


# --- Canonical text for duplicate detection (owned by the duplicates stage) -------------------

# Letters from other scripts that look like Latin ones (after casefold): spammers swap them in to
# make copies look different. Small on purpose: the look-alikes seen in comment spam.
CONFUSABLES = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
        "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
        "ӏ": "l", "ɡ": "g", "ɑ": "a", "ո": "n", "ս": "u", "α": "a", "β": "b", "ε": "e", "η": "n",
        "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
        "ı": "i", "ł": "l", "ø": "o", "ß": "ss", "æ": "ae", "œ": "oe", "đ": "d", "ð": "d",
    }
)  # fmt: skip
# Digits and symbols used as letters inside words ("fr33", "m0ney", "c@sh").
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_WORD = re.compile(r"\b(?=[\w@$]*[^\W\d_])(?=[\w@$]*[013457@$])[\w@$]+")
_URL = re.compile(
    r"(?:[a-z][a-z0-9+.-]{1,15}:)?//(?:[^\s/@]*@)?([^\s/?#:]+)(?::\d+)?([^\s]*)"  # scheme://host...
    r"|\bwww\.([^\s/?#:]+)([^\s]*)"  # www.host...
    r"|\b((?:[a-z0-9-]+\.)+[a-z]{2,24})(/[^\s]*)"  # host.tld/path
)
# Query parameters that say where a click came from, not which page it opens: a link that
# differs only in these is the same link. Lower case; `utm_` is a prefix.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "twclid", "ttclid", "igshid",
        "igsh", "mc_cid", "mc_eid", "_ga", "_gl", "ref", "ref_src", "ref_url", "referrer", "src",
        "source", "si", "feature", "share", "spm", "scid", "mkt_tok", "trk", "cmpid", "s_cid",
    }
)  # fmt: skip
# "soooo" -> "soo": a run of three or more letters is emphasis, while "good" and "too" stay words
# of their own (collapsing those made unrelated short comments equal). ASCII first: much faster.
_REPEAT = re.compile(r"([^\W\d_])\1\1+")
_REPEAT_ASCII = re.compile(r"([a-z])\1\1+")
_LEET_CHAR = re.compile(r"[013457@$]")
_NON_WORD = re.compile(r"[^\w]+")  # punctuation and whitespace runs in one pass
# The same for ASCII text, four times faster: bytes that are not word characters become spaces.
_ASCII_NON_WORD = bytes(
    b if b < 128 and (chr(b).isalnum() or b == ord("_")) else ord(" ") for b in range(256)
)


def _page(rest: str) -> str:
    """The part of a link after the host that names the page: the path and the query without
    tracking parameters or the fragment, trailing slashes dropped."""
    rest = rest.split("#", 1)[0]
    path, _, query = rest.partition("?")
    params = [
        p
        for p in query.split("&")
        if p and not (name := p.split("=", 1)[0]).startswith("utm_") and name not in TRACKING_PARAMS
    ]
    page = path.rstrip("/")
    return f"{page} {' '.join(sorted(params))}" if params else page


def _url_page(m: re.Match[str]) -> str:
    """A link as its host and its page: two pages of one site stay two texts, while a link that
    only changes its tracking parameters (or www., or a trailing slash) stays the same text."""
    groups = m.groups()
    i = next(i for i in (0, 2, 4) if groups[i])
    host = groups[i].rstrip(".").removeprefix("www.")
    return f" {host} {_page(groups[i + 1] or '')} "


def _strip_marks(text: str) -> str:
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def ascii_words(text: str) -> str:
    """ASCII text's runs of non-word characters as single spaces (none at the ends), and runs of
    three or more of one letter cut to two; in one C pass when the kernels are built."""
    if _kernels is not None:
        words: str = _kernels.ascii_words(text)
        return words
    text = " ".join(text.encode().translate(_ASCII_NON_WORD).decode().split())
    return _REPEAT_ASCII.sub(r"\1\1", text)


def normalise_duplicate(text: str) -> str:
    """Canonical form for near-duplicate fingerprints: what a reader sees (HTML, entities and
    invisible characters gone), case-folded, accents and look-alike letters folded to Latin,
    letter-like digits in words read as letters, links reduced to host and page (tracking
    parameters dropped), letters repeated three times or more cut to two, punctuation runs and
    whitespace collapsed to single spaces."""
    text = clean(text).casefold()
    if not text.isascii():
        text = _strip_marks(text).translate(CONFUSABLES)
    if "/" in text or "www." in text:
        text = _URL.sub(_url_page, text)
    if _LEET_CHAR.search(text):
        text = _LEET_WORD.sub(lambda m: m.group().translate(_LEET), text)
    if text.isascii():
        return ascii_words(text)
    text = _NON_WORD.sub(" ", text)
    return _REPEAT.sub(r"\1\1", text).strip()
