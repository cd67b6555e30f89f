"""URL candidates in a reader's view of a comment, and their normal form: scheme, host (IDNA),
port, registrable domain (offline Public Suffix List plus streamproc's own private suffixes),
and host properties (IP literal, homograph)."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from urllib.parse import unquote, urlsplit

import idna
import tldextract


def data_lines(name: str) -> list[str]:
    """Entries of a data file shipped in streamproc/data: one per line, `#` starts a comment."""
    text = resources.files("streamproc").joinpath("data", name).read_text(encoding="utf-8")
    lines = (line.split("#", 1)[0].strip().lower() for line in text.splitlines())
    return [line for line in lines if line]


# Private suffixes that tldextract's bundled PSL snapshot lacks (see data/private_suffixes.txt).
EXTRA_SUFFIXES = tuple(data_lines("private_suffixes.txt"))
# Offline only: suffix_list_urls=() means the bundled snapshot, never a fetch at run time.
_PSL = tldextract.TLDExtract(
    suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True, extra_suffixes=EXTRA_SUFFIXES
)
# Top-level domains that make a bare `word.tld` (no scheme, www or path) a link rather than prose
# such as `agree.so`, `file.zip` or `hello.it`; see data/link_tlds.txt.
LINK_TLDS = frozenset(data_lines("link_tlds.txt"))

DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}
_URL_CHARS = r"[^\s<>\"'`{}|\\^]*+"
# One pass, three kinds, every quantifier possessive or bounded and every start anchored by a
# look-behind, so that no position is scanned more than a bounded number of times.
CANDIDATE = re.compile(
    r"(?P<url>(?<![\w+.-])(?:[hH][tT][tT][pP][sS]?|[fF][tT][pP])://" + _URL_CHARS + ")"
    r"|(?P<email>(?<![\w.+-])[\w.+-]{1,64}+@[\w-]++(?:\.[\w-]++)++)"
    r"|(?P<bare>(?<![\w.@/:\\-])[\w-]++(?:\.[\w-]++)++(?::\d{1,5}+)?(?:[/?#]" + _URL_CHARS + ")?)",
)
# Candidates never contain whitespace and always a `.`, `:` or `@`: only such tokens are scanned
# (three times faster on prose than scanning every position). Anchored at a token start: linear.
_TOKEN = re.compile(r"(?<!\S)[^\s.:@]*+[.:@]\S*+")
_CJK = "\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff01-\uff60"
_CJK_HEAD = re.compile(f"[{_CJK}]++(?=[A-Za-z0-9])")
_CJK_TAIL = re.compile(f"(?<=[A-Za-z0-9])[{_CJK}]")
_TRAIL = ".,;:!?'\"*"
_AUTHORITY_END = re.compile(r"[^\w.\-:@\[\]%~]")
_PAIRS = {")": "(", "]": "[", "}": "{"}
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_LABEL_LOOSE = re.compile(r"^[a-z0-9_-]{1,63}$")  # after a scheme: `my_host.example.com` occurs
_IPV4_LIKE = re.compile(r"^[0-9.]+$")
_HEX = re.compile(r"^[0-9a-f]{1,8}$")

# Hand-made table of letters that look like ASCII letters in common fonts (Cyrillic, Greek,
# Armenian, Latin extensions). Small on purpose: it names the look-alikes spammers use.
CONFUSABLES = {
    **dict(zip("асԁеһіјкӏморԛѕԝхуь", "acdehijklmopqswxyb", strict=True)),  # Cyrillic
    **dict(zip("αεικνορτυχγ", "aeikvoptuxy", strict=True)),  # Greek
    **dict(zip("օսհոզ", "ouhnq", strict=True)),  # Armenian
    **dict(zip("ıɡɑɩƅʏɢɴʀ", "igaibygnr", strict=True)),  # Latin extensions
}


@dataclass(slots=True, frozen=True)
class Host:
    """A normalised host: ASCII (punycode) form, its registrable domain and what it is."""

    ascii: str
    domain: str
    suffix: str
    ip: bool = False
    homograph: str | None = None  # the ASCII name it imitates, when it is a homograph


@dataclass(slots=True, frozen=True)
class Candidate:
    kind: str  # url | email | bare
    text: str
    start: int
    end: int


def candidates(text: str) -> list[Candidate]:
    """URL, e-mail and bare-domain candidates, trailing punctuation and unbalanced brackets cut."""
    if "." not in text and "://" not in text:
        return []
    out: list[Candidate] = []
    for token in _TOKEN.finditer(text):
        for m in CANDIDATE.finditer(text, token.start(), token.end()):
            kind = m.lastgroup or "bare"
            value = m.group()
            if kind == "url":
                # A host ends where a character that cannot be in one starts (`https://x.com,text`).
                cut = _AUTHORITY_END.search(value, value.index("//") + 2)
                if cut and value[cut.start()] not in "/?#":
                    value = value[: cut.start()]
            start = m.start()
            if kind == "bare" and not value.isascii():
                value, start = _cjk_edges(value, start)
            value = trim(value)
            if value:
                out.append(Candidate(kind, value, start, start + len(value)))
    return out


def _cjk_edges(value: str, start: int) -> tuple[str, int]:
    """Chinese, Japanese and Korean text has no spaces around a link (`请访问example.com谢谢`):
    cut ideographs off an ASCII host's ends where they touch ASCII letters."""
    head = _CJK_HEAD.match(value)
    if head:
        value, start = value[head.end() :], start + head.end()
    tail = _CJK_TAIL.search(value)
    if tail:
        value = value[: tail.start()]
    return value, start


def trim(value: str) -> str:
    """Cut what people write after a URL: sentence punctuation and closing brackets that do not
    close one opened inside the URL (`(see https://x.org/Mali_(country)).`)."""
    if not value or (value[-1] not in _TRAIL and value[-1] not in _PAIRS):
        return value
    counts = {c: value.count(c) - value.count(o) for c, o in _PAIRS.items()}
    end = len(value)
    while end:
        ch = value[end - 1]
        if ch in _TRAIL:
            end -= 1
        elif ch in counts and counts[ch] > 0:
            counts[ch] -= 1
            end -= 1
        else:
            break
    return value[:end]


def _script(ch: str) -> str:
    if ch.isascii() or not ch.isalpha():
        return "LATIN" if ch.isalpha() else ""
    name = unicodedata.name(ch, "")
    word = name.split(" ", 1)[0]
    return "CJK" if word in ("HIRAGANA", "KATAKANA", "HANGUL") else word


def homograph_of(unicode_host: str) -> str | None:
    """The ASCII name a unicode host imitates, or None: a label mixes scripts and contains a
    look-alike letter, or a whole non-Latin label is made of look-alikes under an ASCII TLD."""
    labels = unicode_host.split(".")
    tld_ascii = labels[-1].isascii()
    suspicious = False
    for label in labels:
        if label.isascii():
            continue
        scripts = {s for s in map(_script, label) if s}
        has_lookalike = any(c in CONFUSABLES for c in label)
        if not has_lookalike:
            continue
        all_lookalike = all(c.isascii() or c in CONFUSABLES for c in label)
        if len(scripts) > 1 or (all_lookalike and tld_ascii):
            suspicious = True
    if not suspicious:
        return None
    return "".join(CONFUSABLES.get(c, c) for c in unicode_host)


@lru_cache(maxsize=65536)
def parse_host(raw: str, *, loose: bool = False) -> Host | None:
    """Normalise a host as written (any case, unicode, trailing dot); None when it is not a host
    on the public internet that this stage reports (no known public suffix, bad labels)."""
    host = unquote(raw).strip().rstrip(".").lower() if "%" in raw else raw.strip().rstrip(".").lower()
    if not host or len(host) > 253:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if loose and (host.isdigit() or (host.startswith("0x") and _HEX.match(host[2:]))):
        # `http://3232235777/` and `http://0xc0a80001/`: browsers read a single number as IPv4.
        number = int(host, 16) if host.startswith("0x") else int(host)
        if number >= 2**32:
            return None
        ip4 = ipaddress.IPv4Address(number)
        return Host(ip4.compressed, ip4.compressed, "", ip=True)
    if ":" in host or _IPV4_LIKE.match(host):
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return None
        return Host(ip.compressed if ip.version == 4 else f"[{ip.compressed}]", ip.compressed, "", ip=True)
    if "." not in host:
        return None
    if host.isascii():
        ascii_host = host
        try:
            unicode_host = idna.decode(host) if "xn--" in host else host
        except (idna.IDNAError, UnicodeError):
            return None
    else:
        try:
            ascii_host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            return None
        unicode_host = host
    pattern = _LABEL_LOOSE if loose else _LABEL
    if not all(pattern.match(label) for label in ascii_host.split(".")):
        return None
    parts = _PSL(ascii_host)
    if not parts.suffix or not parts.domain:
        return None
    domain = f"{parts.domain}.{parts.suffix}"
    imitates = homograph_of(unicode_host) if not unicode_host.isascii() else None
    return Host(ascii_host, domain, parts.suffix, homograph=imitates)


@dataclass(slots=True, frozen=True)
class Url:
    url: str
    host: Host
    userinfo: bool  # `http://good.com@evil.com`: what precedes @ is not the host
    disguised: bool = False  # host written with %-escapes or as one number (`http://3232235777/`)


@lru_cache(maxsize=65536)
def parse_url(value: str, *, schemed: bool) -> Url | None:
    """Normal form of a candidate: lower-case scheme and host, IDNA, default port dropped."""
    try:
        parts = urlsplit(value if schemed else f"http://{value}")
        netloc = parts.netloc
        hostport = netloc.rpartition("@")[2]
        if hostport.startswith("["):
            raw_host, _, port_text = hostport[1:].partition("]")
            raw_host = f"[{raw_host}]"
            port_text = port_text.lstrip(":")
        else:
            raw_host, _, port_text = hostport.partition(":")
    except ValueError:
        return None
    host = parse_host(raw_host, loose=schemed)
    if host is None:
        return None
    scheme = parts.scheme.lower()
    number = int(port_text) if port_text.isdigit() else 0
    # A default or impossible port says nothing about where the link goes.
    port = f":{number}" if 0 < number < 65536 and number != DEFAULT_PORTS[scheme] else ""
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    disguised = "%" in raw_host or (host.ip and "." not in raw_host and ":" not in raw_host)
    return Url(f"{scheme}://{host.ascii}{port}{path}{query}{fragment}", host, "@" in netloc, disguised)


def looks_like_prose(value: str, url: Url) -> bool:
    """A bare `word.tld` with no scheme, www, port or path that reads as prose: an ambiguous TLD
    (`agree.so`, `file.zip`), a capitalised word after a full stop (`again.Now`), or a bare IP."""
    if value[:4].lower() == "www." or any(c in value for c in "/?#:"):
        return False
    if url.host.ip:
        return True  # `1.2.3.4` alone is as often a version number as an address
    labels = value.split(".")
    tld = labels[-1]
    if tld[:1].isupper() and not tld.isupper() and labels[-2][-1:].islower():
        return True
    suffix = url.host.suffix
    if "." in suffix or suffix.startswith("xn--") or not tld.isascii():
        return False  # co.uk, blogspot.com, an IDN TLD: not a word
    return suffix not in LINK_TLDS
