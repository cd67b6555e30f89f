"""What a reader sees, with offsets back to the original: HTML, entities, invisible characters,
unicode dots and written-out dots (`example [dot] com`, `hxxp://`) undone before links are found.

Every rewrite keeps, for each character of the output, the span of original text it came from, so
that a link found in the cleaned text can be reported at its place in the comment as posted.
All patterns are bounded or anchored so that each runs in linear time on any input.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

# Characters that render as nothing; spammers put them inside hosts to dodge filters.
INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u200e\u200f\u2061\u2062\u2063\u2064")
# Dots that NFKC leaves alone but a reader (and IDNA, for the first three) reads as a full stop.
UNICODE_DOTS = frozenset("\u3002\uff61\uff0e\u2024\ufe52\u0701\u0702\u2e33\u00b7\u2219\u22c5\u30fb\uff65")
# Whatever of the above, or a written-out dot, a defanged scheme or separator, shows in a link's
# original text.
OBFUSCATION_MARK = re.compile(
    "[" + "".join(sorted(INVISIBLE)) + "]|[" + "".join(sorted(UNICODE_DOTS | set("\uff0e"))) + "]"
    r"|[\uff01-\uff5e\U0001d400-\U0001d7ff]"  # fullwidth and mathematical letters: 𝐞𝐱𝐚𝐦𝐩𝐥𝐞
    r"|&#[0-9]{1,7};?|&#[xX][0-9a-fA-F]{1,6};?|&period;|&colon;|&sol;"  # numeric entities: `ex&#97;mple`
    r"|\A(?:h(?!ttps?:)[tx0*]{2}p|f(?!tps?:)[tx][px])s?(?=[:\[(_])|\A[a-z]{3,5}__"  # hxxp, fxp, http__
    r"|[\[({]:[\])}]|[\[(]://[\])]|:\\|\\[.\[(]|[\[({]/[\])}]"  # [:], [://], :\\, \., [/]
    r"|[\[({<] {0,3}(?:\.|dot)|\.[\])}>]|\s",
    re.IGNORECASE,
)

# Tags are bounded and may not contain '<', so a run of '<' costs one step each.
_MARKUP = re.compile(
    r"(?P<tag></?[A-Za-z!][^<>]{0,2000}>)"
    r"|(?P<ent>&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?)"
)
# An autolink rather than a tag: `<https://x.com>`, `<tcp://...>`, but also a schemeless
# `<example.com>`, `<example.com/path>` and `<user@example.com>`: no tag name holds `.` or `@`.
_AUTOLINK = re.compile(r"<(?:[a-z][a-z0-9+\-]{0,15}+(?::|\[:\])//|[^\s<>/=\"'.@]{0,253}+[.@])", re.IGNORECASE)
_HREF = re.compile(r"""\b(?:href|src)\s{0,8}=\s{0,8}(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)

# Top-level words that make a written-out dot believable (`example dot com`); prose such as
# "the dot com bubble" is excluded by the stop words below.
DOT_TLDS = frozenset(
    {
        "com", "net", "org", "info", "biz", "co", "uk", "ru", "de", "fr", "io", "us", "ca", "au", "in",
        "me", "tv", "cc", "xyz", "top", "site", "online", "shop", "store", "club", "live", "link",
        "click", "app", "dev", "pro", "vip", "win", "cn", "jp", "br", "pl", "nl", "es", "it", "eu",
        "ly", "gl", "be", "to", "ws", "la",
    }
)  # fmt: skip
_STOPWORDS = frozenset(
    {
        "the", "a", "an", "this", "that", "of", "in", "on", "at", "to", "is", "was", "dot", "and",
        "or", "my", "your", "our", "big",
    }
)  # fmt: skip

# Defanged schemes and separators -> a plain scheme: hxxp://, h00p://, h**p://, fxp://, ftx://,
# http[:]//, http[://], http:\\host, http__host.
_SCHEME = re.compile(
    r"(?<![\w+.-])(?:(?P<web>h[tx0*]{2}p)|(?P<ftp>f[tx][px]))(?P<s>s?)"
    r"(?:(?:\[:\]|\(:\)|\{:\}|:)(?://|\\\\?)|\[://\]|\(://\)|__(?=\w))",
    re.IGNORECASE,
)
# example[.]com, example (.) com, example{dot}com, example [ dot ] com
_BRACKET_DOT = re.compile(
    r"(?<=\w) {0,3}[\[({<] {0,3}(?:\.|dot|punkt|period) {0,3}[\])}>] {0,3}(?=\w)", re.IGNORECASE
)
# What is left after those: a dot with half a bracket (example[.com, example.]com) or a
# backslash (example\.com, example\(.)com), as indicator lists write them.
_LOOSE_DOT = re.compile(r"(?<=\w)(?:\\(?:[\[({]\.[\])}]|\.)|[\[({]\.|\.[\])}])(?=\w)")
# example.com[/]path
_BRACKET_SLASH = re.compile(r"(?<=\w)[\[({]/[\])}](?=\w)")
# `w w w . e x a m p l e . c o m`: four or more single characters separated by single spaces.
_SPACED = re.compile(r"(?<!\S)(?:[\w.] ){3,}[\w.](?!\S)")
# `example dot com`, `example . com`: a word, a spaced or spelled-out dot, a word.
# (The left word is possessive, so a `dot` or a plain `.` needs a space before or after it.)
_WORD_DOT = re.compile(r"(?<!\w)(\w{1,63}+)( {1,3}(?:\.|dot|DOT|Dot) {0,3}|\. {1,3})(?=(\w{1,63}+))")
_BRACKET_TRIGGER = re.compile(r"[\[({<] {0,3}\.")
# Without one of these no rewrite below can apply. Most comments have none, and substring tests
# and patterns that start with a rare character are far cheaper than the rewrites' patterns:
# a bracket before a dot, colon or slash (`[.]`, `[:]`, `(/)`), a dot before a closing bracket
# and a word (`example.]com`), a defanged scheme name before `://`, and the substrings below.
_TRIGGER = re.compile(r"[\[({<] {0,3}[.:/]|\.[\])}]\w")
_SCHEME_TRIGGER = re.compile(r"(?:h(?!ttps?:)[tx0*]{2}ps?|f(?!tps?:)[tx][px]s?)://")


@dataclass(slots=True)
class Mapped:
    """Text with, for each character, the [start, end) span of original text it came from.

    `starts`/`ends` are None while the text is the original itself (the common, fast case).
    """

    text: str
    starts: list[int] | None = None
    ends: list[int] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of text[start:end]."""
        if self.starts is None or self.ends is None:
            return start, end
        if start >= end:
            pos = self.starts[start] if start < len(self.starts) else (self.ends[-1] if self.ends else 0)
            return pos, pos
        return self.starts[start], self.ends[end - 1]


class _Builder:
    """Accumulates output pieces and their original spans."""

    __slots__ = ("ends", "pieces", "starts")

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []

    def copy(self, src: Mapped, start: int, end: int) -> None:
        """Copy src.text[start:end] keeping its mapping."""
        if start >= end:
            return
        self.pieces.append(src.text[start:end])
        if src.starts is None or src.ends is None:
            self.starts.extend(range(start, end))
            self.ends.extend(range(start + 1, end + 1))
        else:
            self.starts.extend(src.starts[start:end])
            self.ends.extend(src.ends[start:end])

    def put(self, text: str, orig_start: int, orig_end: int) -> None:
        """Emit replacement text that stands for original[orig_start:orig_end]."""
        self.pieces.append(text)
        self.starts.extend([orig_start] * len(text))
        self.ends.extend([orig_end] * len(text))

    def build(self) -> Mapped:
        return Mapped("".join(self.pieces), self.starts, self.ends)


@lru_cache(maxsize=4096)
def _fold(ch: str) -> str:
    """What a reader sees for one character: nothing, a dot, or its NFKC form."""
    if ch in INVISIBLE:
        return ""
    if ch in UNICODE_DOTS:
        return "."
    return unicodedata.normalize("NFKC", ch)


def _markup_into(out: _Builder, text: str, base: int, *, in_tag: bool) -> None:
    """Undo the tags and entities of `text` (found at `base` in the original) into `out`."""
    pos = 0
    for m in _MARKUP.finditer(text):
        start, end = m.span()
        if start > pos:
            _copy_plain(out, text, pos, start, base)
        kind = m.lastgroup
        if kind == "tag" and _AUTOLINK.match(m.group()):
            # Markdown/e-mail autolink `<https://example.com>`: the inside is the link.
            out.put(" ", base + start, base + start + 1)
            if "&" in m.group():
                _markup_into(out, m.group()[1:-1], base + start + 1, in_tag=True)
            else:
                _copy_plain(out, text, start + 1, end - 1, base)
            out.put(" ", base + end - 1, base + end)
        elif kind == "tag":
            out.put(" ", base + start, base + end)
            if not in_tag:
                href = _HREF.search(m.group())
                if href:
                    group = 1 if href.group(1) is not None else 2 if href.group(2) is not None else 3
                    if href.group(group).startswith("//"):  # protocol-relative: as the page's scheme
                        out.put(" http:", base + start + href.start(group), base + start + href.start(group))
                    _markup_into(out, href.group(group), base + start + href.start(group), in_tag=True)
                    out.put(" ", base + end, base + end)
        else:
            out.put(html.unescape(m.group()), base + start, base + end)
        pos = end
    _copy_plain(out, text, pos, len(text), base)


def _copy_plain(out: _Builder, text: str, start: int, end: int, base: int) -> None:
    if start < end:
        out.pieces.append(text[start:end])
        out.starts.extend(range(base + start, base + end))
        out.ends.extend(range(base + start + 1, base + end + 1))


# Characters that reading removes or turns into a dot; NFKC leaves them alone.
_FOLDED = re.compile("[" + "".join(sorted(INVISIBLE | UNICODE_DOTS)) + "]")


def _fold_all(src: Mapped) -> Mapped:
    """Fold the characters that a reader sees differently. Only the few distinct characters that
    change are looked for (str.find), so text that needs nothing, or little, costs little."""
    text = src.text
    if _FOLDED.search(text) is None and unicodedata.is_normalized("NFKC", text):
        return src  # most non-English text
    changed = {c: f for c in set(text) if not c.isascii() and (f := _fold(c)) != c}
    if not changed:
        return src
    places = []
    for ch in changed:
        i = text.find(ch)
        while i >= 0:
            places.append(i)
            i = text.find(ch, i + 1)
    places.sort()
    out = _Builder()
    pos = 0
    for i in places:
        out.copy(src, pos, i)
        out.put(changed[text[i]], *src.span(i, i + 1))
        pos = i + 1
    out.copy(src, pos, len(text))
    return out.build()


def decode(text: str) -> Mapped:
    """HTML tags (keeping `href` values), entities, invisible characters and unicode dots undone,
    other characters NFKC-folded."""
    src = Mapped(text)
    if "&" in text or "<" in text:
        out = _Builder()
        _markup_into(out, text, 0, in_tag=False)
        src = out.build()
    return src if src.text.isascii() else _fold_all(src)


def _rewrite(src: Mapped, pattern: re.Pattern[str], replace: Callable[[re.Match[str]], str | None]) -> Mapped:
    """Apply `replace` to each match (None keeps the match as it is), composing the mapping."""
    out = _Builder()
    pos = 0
    changed = False
    for m in pattern.finditer(src.text):
        new = replace(m)
        if new is None:
            continue
        start, end = m.span()
        out.copy(src, pos, start)
        orig_start, orig_end = src.span(start, end)
        out.put(new, orig_start, orig_end)
        pos = end
        changed = True
    if not changed:
        return src
    out.copy(src, pos, len(src.text))
    return out.build()


def _spaced(m: re.Match[str]) -> str | None:
    joined = m.group().replace(" ", "")
    # Only a run that reads as a host once joined: a dot between letters, or a leading `www.`.
    if ("." not in joined.strip(".") and joined.lower() != "www.") or not any(c.isalpha() for c in joined):
        return None
    return joined


def _word_dot(m: re.Match[str]) -> str | None:
    left, sep, right = m.group(1), m.group(2), m.group(3)
    if sep.strip() == "." and " " not in sep:
        return None  # an ordinary dot
    if left.lower() in _STOPWORDS:
        return None
    if left.lower() != "www" and right.lower() not in DOT_TLDS:
        return None
    return left + "."


def _scheme(m: re.Match[str]) -> str | None:
    plain = ("http" if m.group("web") else "ftp") + m.group("s").lower()
    written = m.group()
    return None if written[: len(plain) + 3].lower() == f"{plain}://" else f"{plain}://"


def _needs_rewrite(text: str) -> bool:
    if " ." in text or "\\" in text or "__" in text or "dot" in text.lower() or _TRIGGER.search(text):
        return True
    return "://" in text and _SCHEME_TRIGGER.search(text.lower()) is not None


def deobfuscate(src: Mapped) -> Mapped:
    """Undo dots, slashes and schemes written to dodge filters; returns src itself when there are
    none. Each rewrite runs only when a substring it needs is there."""
    if not _needs_rewrite(src.text):
        return src
    out = src
    if any(mark in out.text for mark in ("://", "__", "[", "(", "{", "\\")):
        out = _rewrite(out, _SCHEME, _scheme)
    low = out.text.lower()
    if "dot" in low or "punkt" in low or "period" in low or _BRACKET_TRIGGER.search(out.text):
        out = _rewrite(out, _BRACKET_DOT, lambda m: ".")
    text = out.text
    if "\\" in text or ".]" in text or ".)" in text or ".}" in text or _BRACKET_TRIGGER.search(text):
        out = _rewrite(out, _LOOSE_DOT, lambda m: ".")
    if "/]" in out.text or "/)" in out.text or "/}" in out.text:
        out = _rewrite(out, _BRACKET_SLASH, lambda m: "/")
    if " ." in out.text:
        out = _rewrite(out, _SPACED, _spaced)
    return _rewrite(out, _WORD_DOT, _word_dot)


def reader_view(text: str) -> Mapped:
    """The comment as a careful reader sees it, ready for link extraction."""
    return deobfuscate(decode(text))
