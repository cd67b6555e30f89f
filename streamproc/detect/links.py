"""Link extraction and classification: find URLs in a comment, name their registrable domain,
flag shorteners, IP hosts and deny-listed domains, and score the comment's links."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

import tldextract

from streamproc.detect.text import clean
from streamproc.events import Reason, StageResult

VERSION = "links-1"

# Well-known URL shorteners and redirectors; extended by configuration.
SHORTENERS = frozenset(
    {
        "bit.ly", "tinyurl.com", "goo.gl", "t.co", "ow.ly", "is.gd", "buff.ly", "adf.ly",
        "bitly.com", "cutt.ly", "rebrand.ly", "shorturl.at", "tiny.cc", "rb.gy", "t.ly",
        "lnkd.in", "s.id", "v.gd", "shorte.st", "bc.vc", "qr.ae", "soo.gd", "clck.ru",
    }
)  # fmt: skip

# Offline Public Suffix List (the snapshot bundled with tldextract), private suffixes included.
_PSL = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)

_URL = re.compile(
    r"(?:(?:https?|hxxps?|ftp)://|www\.)[^\s<>\"'\]\[(){}]{1,2000}"
    r"|\b(?:[a-z0-9](?:[a-z0-9-]{0,62})\.){1,8}[a-z]{2,24}\b(?:/[^\s<>\"']{0,2000})?",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"\b[\w.+-]{1,64}@(?:[a-z0-9-]{1,63}\.){1,8}[a-z]{2,24}\b", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


@dataclass(slots=True, frozen=True)
class Link:
    original: str
    start: int
    end: int
    url: str
    host: str
    domain: str
    flags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "original": self.original,
            "span": [self.start, self.end],
            "url": self.url,
            "host": self.host,
            "domain": self.domain,
            "flags": list(self.flags),
        }


@dataclass(slots=True, frozen=True)
class DomainLists:
    """Deny- and allow-listed registrable domains, and shorteners."""

    deny: frozenset[str] = frozenset()
    allow: frozenset[str] = frozenset()
    shorteners: frozenset[str] = SHORTENERS


@dataclass(slots=True)
class LinkReport:
    links: list[Link] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)

    @property
    def domains(self) -> list[str]:
        return sorted({link.domain for link in self.links})


@lru_cache(maxsize=65536)
def registrable_domain(host: str) -> tuple[str, bool]:
    """Return (registrable domain, has a known public suffix) for a host name."""
    if _IPV4.match(host):
        return host, True
    parts = _PSL(host)
    if not parts.suffix or not parts.domain:
        return host, False
    return f"{parts.domain}.{parts.suffix}", True


def _normalise(candidate: str) -> tuple[str, str] | None:
    url = candidate
    if url.lower().startswith("hxxp"):
        url = "http" + url[4:]
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
    except ValueError:
        return None
    if not host or "." not in host:
        return None
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme.lower()}://{host}{path}{query}", host


def extract_links(text: str, lists: DomainLists | None = None) -> LinkReport:
    """Find the links and e-mail addresses in a comment's text."""
    lists = lists or DomainLists()
    text = clean(text)
    report = LinkReport()
    emails = list(_EMAIL.finditer(text))
    report.emails = [m.group(0).lower() for m in emails]
    email_spans = [m.span() for m in emails]
    for match in _URL.finditer(text):
        start, end = match.span()
        if any(a <= start < b for a, b in email_spans):
            continue
        original = match.group(0).rstrip(_TRAILING)
        end = start + len(original)
        normalised = _normalise(original)
        if normalised is None:
            continue
        url, host = normalised
        domain, known = registrable_domain(host)
        schemeless = "://" not in original and not original.lower().startswith("www.")
        if not known and (schemeless or not _IPV4.match(host)):
            continue  # `file.txt`, `e.g.`: no public suffix, not a link
        flags = []
        if _IPV4.match(host):
            flags.append("ip_host")
        if domain in lists.shorteners or host in lists.shorteners:
            flags.append("shortener")
        if domain in lists.deny:
            flags.append("denied")
        if domain in lists.allow:
            flags.append("allowed")
        if original.lower().startswith("hxxp"):
            flags.append("obfuscated")
        report.links.append(Link(original, start, end, url, host, domain, tuple(flags)))
    return report


def assess_links(text: str, lists: DomainLists | None = None) -> StageResult:
    """The link stage's verdict for one comment's text."""
    report = extract_links(text, lists)
    reasons: list[Reason] = []
    for link in report.links:
        if "allowed" in link.flags:
            continue
        if "shortener" in link.flags:
            reasons.append(Reason("link.shortener", f"shortened link: {link.domain}", 0.5, link.domain))
        if "denied" in link.flags:
            reasons.append(Reason("link.denied", f"deny-listed domain: {link.domain}", 0.9, link.domain))
        if "ip_host" in link.flags:
            reasons.append(Reason("link.ip_host", f"link to a bare IP address: {link.host}", 0.5, link.host))
        if "obfuscated" in link.flags:
            reasons.append(Reason("link.obfuscated", "link written to dodge filters", 0.6, link.domain))
    unlisted = [link for link in report.links if "allowed" not in link.flags]
    if unlisted:
        reasons.append(Reason("link.present", f"{len(unlisted)} link(s): {', '.join(report.domains)}", 0.2))
    if len(unlisted) >= 3:
        reasons.append(Reason("link.many", f"{len(unlisted)} links in one comment", 0.3))
    if report.emails:
        reasons.append(Reason("link.email", "contact e-mail address in text", 0.3))
    score = min(1.0, sum(r.weight for r in reasons))
    label = "bad" if score >= 0.8 else "suspicious" if score >= 0.4 else "clean"
    data = {
        "links": [link.to_dict() for link in report.links],
        "domains": report.domains,
        "emails": report.emails,
    }
    return StageResult("links", label, score, reasons, VERSION, data)
