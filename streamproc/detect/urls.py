"""URL candidates in a reader's view of a comment, and their normal form: scheme, host (IDNA),
port, registrable domain (offline Public Suffix List plus streamproc's own private suffixes),
and host properties (IP literal, homograph)."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
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
_EXTRA_SUFFIX_SET = frozenset(EXTRA_SUFFIXES)


def _link_tlds() -> tuple[frozenset[str], frozenset[str]]:
    entries = [line.split() for line in data_lines("link_tlds.txt")]
    return frozenset(e[0] for e in entries), frozenset(e[0] for e in entries if e[1:] == ["word"])


# Top-level domains that make a bare `word.tld` (no scheme, www or path) a link rather than prose
# such as `agree.so`, `file.zip` or `hello.it`; WORD_TLDS are those of them that are also words
# starting a sentence, so `there.By the way` stays prose. See data/link_tlds.txt for the rule.
LINK_TLDS, WORD_TLDS = _link_tlds()
# Degrees written like names under a TLD (`b.tech`, `M.Sc`): prose however they are cased.
DEGREES = frozenset({"b.sc", "m.sc", "b.tech", "m.tech", "b.com", "m.com"})

# Ports that say nothing about where a link goes, per scheme: dropped from the normal form.
DEFAULT_PORTS = {
    "http": 80,
    "https": 443,
    "ftp": 21,
    "ftps": 990,
    "sftp": 22,
    "ssh": 22,
    "ws": 80,
    "wss": 443,
}
WEB_SCHEMES = frozenset({"http", "https"})
# Symbols that IDNA 2003 allowed in host names and that registries of `.ws` and a few other TLDs
# still sell (`✪df.ws`, `➡.ws`): arrows, technical symbols, geometric shapes, dingbats, emoji and
# the emoji variation selector. IDNA 2008 forbids them, so `parse_host` falls back for them.
SYMBOLS = "\u2190-\u21ff\u2300-\u23ff\u25a0-\u27bf\u2900-\u297f\u2b00-\u2bff\ufe0f\U0001f000-\U0001faff"
# A path may hold `'`, `>` and a backtick (`/it's-here`); `candidates` ends it at one that closes
# what opened before the link, and `trim` drops one left at its end.
_URL_CHARS = r"[^\s<\"{}|\\^]*+"
_HOST_CHAR = rf"[\w\-{SYMBOLS}]"
# One pass, four kinds, every quantifier possessive or bounded and every start anchored by a
# look-behind, so that no position is scanned more than a bounded number of times:
# - url: any `scheme://` (http, ftp, but also tcp, sftp, svn+ssh: a host there is a destination
#   too), after a space, punctuation or a lone dash (`-https://...`), never inside a word;
# - rel: a protocol-relative `//host`, after a space or punctuation;
# - email: a plain local part (quoted ones are found by _QUOTED_EMAIL);
# - bare: `name.tld`, with an optional port and path. Symbols are host characters here so that
#   `➡.ws` is one name; `candidates` cuts the ones glued to an ASCII name (`👉example.com`).
CANDIDATE = re.compile(
    r"(?P<url>(?<![\w+.])(?<![\w+.]-)[A-Za-z][A-Za-z0-9+\-]{0,15}+://" + _URL_CHARS + ")"
    r"|(?P<rel>(?<![\w.:/\\-])//(?=[\w" + SYMBOLS + "])" + _URL_CHARS + ")"
    r"|(?P<email>(?<![\w.+-])[\w.+-]{1,64}+@[\w-]++(?:\.[\w-]++)++)"
    r"|(?P<bare>(?<![\w.@/:\-" + SYMBOLS + "])" + _HOST_CHAR + r"++(?:\." + _HOST_CHAR + r"++)++"
    r"(?::\d{1,5}+)?(?:[/?#]" + _URL_CHARS + ")?)",
)
# `"john doe"@example.com`: a quoted local part may hold spaces and dots, so it is found on its own
# (tokens never span a space) and the text inside the quotes is no link of its own.
_QUOTED_EMAIL = re.compile(r'(?<![\w.+-])"[^"\r\n]{1,64}+"@[\w-]++(?:\.[\w-]++)++')
_RUN = re.compile(r"\S*+")  # the rest of a token
_CJK = "\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff01-\uff60"
_CJK_HEAD = re.compile(f"[{_CJK}]++(?=[A-Za-z0-9])")
_CJK_TAIL = re.compile(f"(?<=[A-Za-z0-9])[{_CJK}]")
_SYMBOL = re.compile(f"[{SYMBOLS}]")
_SYMBOL_HEAD = re.compile(f"[{SYMBOLS}]++")
_HOST_END = re.compile(r"[/?#:]")
_TRAIL = ".,;:!?'\"*`"
_AUTHORITY_END = re.compile(rf"[^\w.\-:@\[\]%~{SYMBOLS}]")
_PAIRS = {")": "(", "]": "[", "}": "{", ">": "<"}
_QUOTES = {"'": "'", "`": "`", "<": ">"}  # a link opened by one of these ends at its partner
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_LABEL_LOOSE = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")  # after a scheme: `my_host.example.com` occurs
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
    quoted = list(_QUOTED_EMAIL.finditer(text)) if '"@' in text else []
    out: list[Candidate] = []
    for token_start, token_end in _link_tokens(text):
        if text[token_start:token_end].replace(".", "").isdigit():
            continue  # `4.5`, `2.0.1`, `1.2.3.4`: numbers, or an IP that alone reads as one
        for m in CANDIDATE.finditer(text, token_start, token_end):
            kind = m.lastgroup or "bare"
            value = m.group()
            start = m.start()
            if kind == "url" or kind == "rel":
                # A host ends where a character that cannot be in one starts (`https://x.com,text`).
                cut = _AUTHORITY_END.search(value, value.index("//") + 2)
                if cut and value[cut.start()] not in "/?#":
                    value = value[: cut.start()]
            if start and kind != "email" and text[start - 1] in _QUOTES:
                value = _closed_by_opener(value, text[start - 1])
            if kind == "bare" and (value[0] in "-_" or value[-1] in "-_" or not value.isascii()):
                value, start = _bare_edges(value, start)
            value = trim(value)
            if value:
                out.append(Candidate(kind, value, start, start + len(value)))
    if quoted:
        out = _with_quoted_emails(out, quoted)
    return out


def _link_tokens(text: str) -> Iterator[tuple[int, int]]:
    """Spans of the whitespace-delimited tokens that can hold a candidate: those with a `.` that
    is followed by more of the token, or a `://`. Found with str.find, which skips ordinary prose
    far faster than a regex can step through it; each character is looked at a bounded number of
    times (the span before a hint is sliced once, the token after it matched once)."""
    n = len(text)
    pos = 0  # everything before pos has been handed out or skipped; it is a token boundary
    dot = text.find(".")
    sep = text.find("://")
    while dot >= 0 or sep >= 0:
        hint = dot if sep < 0 or 0 <= dot < sep else sep
        if hint == dot and (hint + 1 == n or text[hint + 1].isspace()):
            pos = hint + 1  # a sentence's full stop: the token ends here and had no earlier hint
        else:
            before = text[pos:hint]
            start = hint - len(before.rsplit(None, 1)[-1]) if before and not before[-1].isspace() else hint
            match = _RUN.match(text, hint)
            pos = match.end() if match else hint + 1
            yield start, pos
        if 0 <= dot < pos:
            dot = text.find(".", pos)
        if 0 <= sep < pos:
            sep = text.find("://", pos)


def _closed_by_opener(value: str, before: str) -> str:
    """A link written inside quotes or a backtick or angle-bracket pair ends at the partner of the
    character before it (`'https://x.com/a'`); otherwise such characters belong to the path."""
    closer = _QUOTES.get(before)
    if closer is None:
        return value
    cut = value.find(closer)
    return value if cut < 0 else value[:cut]


def _bare_edges(value: str, start: int) -> tuple[str, int]:
    """Cut what surrounds a bare name: a leading dash or underscore (`-example.com` in a list,
    `_example.com_` in Markdown), touching CJK text, and decorative symbols glued to it."""
    lead = len(value) - len(value.lstrip("-_"))
    if lead:
        value, start = value[lead:], start + lead
    if not value.isascii():
        value, start = _cjk_edges(value, start)
        value, start = _symbol_edges(value, start)
    if value[-1:] in ("-", "_") and not _HOST_END.search(value):
        value = value.rstrip("-_")
    return value, start


def _symbol_edges(value: str, start: int) -> tuple[str, int]:
    """Symbols before a name (`👉example.com`) or after its TLD (`example.com👈`) are decoration; a
    label made only of symbols (`➡.ws`) or holding them inside is a name."""
    head = _SYMBOL_HEAD.match(value)
    if head and value[head.end() : head.end() + 1] not in (".", ""):
        value, start = value[head.end() :], start + head.end()
    end_match = _HOST_END.search(value)
    end = end_match.start() if end_match else len(value)
    tail = _SYMBOL.search(value, value.rfind(".", 0, end) + 1, end)
    if tail:
        value = value[: tail.start()]
    return value, start


def _with_quoted_emails(found: list[Candidate], quoted: list[re.Match[str]]) -> list[Candidate]:
    """Add the quoted-local-part e-mails and drop what was found inside them."""
    spans = [m.span() for m in quoted]
    kept = [c for c in found if not any(s < c.end and c.start < e for s, e in spans)]
    kept += [Candidate("email", m.group(), m.start(), m.end()) for m in quoted]
    return sorted(kept, key=lambda c: c.start)


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
    """Cut what people write after a URL: sentence punctuation, and closing brackets and quotes
    that do not close one opened inside the URL (`(see https://x.org/Mali_(country)).`,
    `https://x.org/?q='a'` keeps its last quote, `https://x.org/a'` does not)."""
    if not value or (value[-1] not in _TRAIL and value[-1] not in _PAIRS):
        return value
    counts = {c: value.count(c) - value.count(o) for c, o in _PAIRS.items()}
    quotes = {q: value.count(q) for q in "'`"}
    end = len(value)
    while end:
        ch = value[end - 1]
        if ch in quotes and quotes[ch] % 2 == 0:
            break  # closes a quote inside the URL
        if ch in _TRAIL:
            end -= 1
            if ch in quotes:
                quotes[ch] -= 1
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


@cache
def top_labels() -> frozenset[str]:
    """The last label of every suffix the PSL knows, in unicode and in punycode. A name ending in
    anything else is no host: parse_host stops there, before the costly IDNA and PSL work (prose
    joined by `。` or `4.5` would otherwise pay it)."""
    labels = {suffix.rsplit(".", 1)[-1] for suffix in _PSL.tlds}
    return frozenset(
        labels | {label.encode("idna").decode("ascii") for label in labels if not label.isascii()}
    )


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
    if "." not in host or host.rpartition(".")[2] not in top_labels():
        return None
    if host.isascii():
        ascii_host: str | None = host
        unicode_host = _to_unicode(host) if "xn--" in host else host
    else:
        ascii_host, unicode_host = _to_ascii(host), host
    if ascii_host is None or unicode_host is None:
        return None
    pattern = _LABEL_LOOSE if loose else _LABEL
    if not all(pattern.match(label) for label in ascii_host.split(".")):
        return None
    parts = _PSL(ascii_host)
    if not parts.suffix:
        return None
    if parts.domain:
        domain = f"{parts.domain}.{parts.suffix}"
    elif parts.is_private or parts.suffix in _EXTRA_SUFFIX_SET:
        # The host is itself a service's private suffix (`blogspot.com`, `github.io`): a site of
        # its own, and its own registrable unit. A public suffix alone (`co.uk`) is no host.
        domain = parts.suffix
    else:
        return None
    imitates = homograph_of(unicode_host) if not unicode_host.isascii() else None
    return Host(ascii_host, domain, parts.suffix, homograph=imitates)


def _to_ascii(host: str) -> str | None:
    """Punycode of a unicode host: IDNA 2008 (UTS 46 mapping), or IDNA 2003 for a host with
    symbols, which IDNA 2008 forbids but `.ws` and a few other registries still sell."""
    try:
        return str(idna.encode(host, uts46=True).decode("ascii"))
    except (idna.IDNAError, UnicodeError):
        if not _SYMBOL.search(host):
            return None
    try:
        return host.encode("idna").decode("ascii")  # Python's codec is IDNA 2003
    except UnicodeError:
        return None


def _to_unicode(host: str) -> str | None:
    """The unicode form of a punycode host (`xn--df-oiy.ws` is `✪df.ws`), by the same rules."""
    try:
        return str(idna.decode(host))
    except (idna.IDNAError, UnicodeError):
        pass
    try:
        decoded = host.encode("ascii").decode("idna")
    except UnicodeError:
        return None
    return decoded if _SYMBOL.search(decoded) else None


@dataclass(slots=True, frozen=True)
class Url:
    url: str
    host: Host
    userinfo: bool  # a login that is a trick: `http://good.com@evil.com` goes to evil.com
    disguised: bool = False  # host written with %-escapes or as one number (`http://3232235777/`)


@lru_cache(maxsize=65536)
def parse_url(value: str, *, schemed: bool) -> Url | None:
    """Normal form of a candidate: lower-case scheme and host, IDNA, default port dropped.
    `schemed` is true for `scheme://...` and protocol-relative `//...` candidates."""
    try:
        parts = urlsplit(value if schemed else f"http://{value}")
        netloc = parts.netloc
        userinfo, _, hostport = netloc.rpartition("@")
        if hostport.startswith("["):
            raw_host, _, port_text = hostport[1:].partition("]")
            raw_host = f"[{raw_host}]"
            port_text = port_text.lstrip(":")
        else:
            raw_host, _, port_text = hostport.partition(":")
    except ValueError:
        return None
    # After a scheme, hosts are read as browsers read them (`my_host`, a single number); after
    # `//` alone, as strictly as a bare name.
    host = parse_host(raw_host, loose=schemed and bool(parts.scheme))
    if host is None:
        return None
    scheme = parts.scheme.lower() or "http"
    number = int(port_text) if port_text.isdigit() else 0
    # A default or impossible port says nothing about where the link goes.
    port = f":{number}" if 0 < number < 65536 and number != DEFAULT_PORTS.get(scheme) else ""
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    disguised = "%" in raw_host or (host.ip and "." not in raw_host and ":" not in raw_host)
    # A login is a trick on the web (`http://good.com@evil.com`) but ordinary for ssh, sftp or
    # svn; there only a login that looks like a host is one.
    tricky = "@" in netloc and (scheme in WEB_SCHEMES or "." in userinfo)
    return Url(f"{scheme}://{host.ascii}{port}{path}{query}{fragment}", host, tricky, disguised)


def looks_like_prose(value: str, url: Url) -> bool:
    """A bare `word.tld` with no scheme, www, port or path that reads as prose: a TLD that is also
    a word or a file extension (`agree.so`, `file.zip`), a word TLD capitalised after a full stop
    (`there.By`), or a bare IP. See data/link_tlds.txt for which TLDs count."""
    if value[:4].lower() == "www." or any(c in value for c in "/?#:"):
        return False
    host = url.host
    if host.ip:
        return True  # `1.2.3.4` alone is as often a version number as an address
    labels = value.split(".")
    tld = labels[-1]
    if not tld.isascii() or host.suffix.startswith("xn--"):
        return False  # an IDN TLD is no English word
    lower = tld.lower()
    if tld[:1].isupper() and not tld.isupper():
        # `there.By the way` and `game.Mr Smith` are a missing space (most two-letter country
        # codes are also a word, title or name that starts a sentence); `M.Sc` is an abbreviation.
        name = labels[-2]
        if (name[-1:].islower() and (len(tld) == 2 or lower in WORD_TLDS)) or len(name) < 3:
            return True
    if value.lower() in DEGREES:
        return True
    if "." in host.suffix and host.ascii != host.suffix:
        return False  # a name under co.uk or blogspot.com: not a word
    return lower not in LINK_TLDS
