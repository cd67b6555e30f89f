"""The link stage core: find every link a careful reader would find in a comment (plain text,
HTML, Markdown, bare and obfuscated domains), normalise it, classify it against the domain lists
and score the comment, with reasons; plus domain campaigns over a state passed in.

Spans in the result index into the comment text as given (Python string indices, i.e. code
points): for a link written as HTML they cover the `href` value, for an obfuscated link the whole
written-out form (`example [dot] com`).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from streamproc.detect.campaigns import (
    COMMON_DOMAINS,
    DEFAULT_RULES,
    CampaignRules,
    CampaignState,
    Sightings,
    observe,
)
from streamproc.detect.deobfuscate import OBFUSCATION_MARK, reader_view
from streamproc.detect.urls import candidates, data_lines, looks_like_prose, parse_host, parse_url
from streamproc.errors import ConfigError
from streamproc.events import Reason, StageResult

if TYPE_CHECKING:
    from streamproc.detect.urls import Url

VERSION = "links-3"  # rules version in every verdict: bumped when what is found changes
log = logging.getLogger("streamproc.detect.links")

# URL shorteners and redirectors, shipped in streamproc/data/shorteners.txt; extended by the
# "shorteners" key of the domain-lists file.
SHORTENERS = frozenset(data_lines("shorteners.txt"))
LISTS_CHECK_SECONDS = 5.0  # how often the domain-lists file's mtime is looked at, at most
MANY_LINKS = 3  # distinct links in one comment that make it look like a link drop
_WORD = re.compile(r"[^\W\d_]{2,}")

# Reason weights. The spam stage has its own weights for these codes; these make the link
# stage's own label: >= 0.8 bad, >= 0.4 suspicious.
WEIGHTS = {
    "link.denied": 0.9,
    "link.homograph": 0.8,
    "link.obfuscated": 0.6,
    "link.shortener": 0.5,
    "link.ip_host": 0.5,
    "link.campaign": 0.5,
    "link.many": 0.3,
    "link.only": 0.3,
    "link.email": 0.3,
    "link.present": 0.2,
}


@dataclass(slots=True, frozen=True)
class Link:
    original: str
    start: int
    end: int
    url: str
    host: str
    domain: str
    flags: tuple[str, ...] = ()
    imitates: str | None = None  # for a homograph: the ASCII name it looks like

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
    """Deny- and allow-listed domains, and shorteners. An entry matches the host itself or any
    parent of it (`evil.com` matches `www.evil.com`)."""

    deny: frozenset[str] = frozenset()
    allow: frozenset[str] = frozenset()
    shorteners: frozenset[str] = SHORTENERS


def _listed(host: str, names: frozenset[str]) -> bool:
    if not names:
        return False
    while True:
        if host in names:
            return True
        dot = host.find(".")
        if dot < 0:
            return False
        host = host[dot + 1 :]


def _entries(obj: dict[str, object], key: str, path: str) -> frozenset[str]:
    values = obj.get(key, [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"domain_lists file {path!r}: {key!r} must be a list of domain names")
    out = set()
    for value in values:
        host = parse_host(value.strip().lower())
        out.add(host.ascii if host is not None else value.strip().lower())  # IDN entries as punycode
    return frozenset(out)


def read_domain_lists(path: str) -> DomainLists:
    """Read {"deny": [...], "allow": [...], "shorteners": [...]} from a JSON file."""
    try:
        obj = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError(f"domain_lists file {path!r} could not be read as JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ConfigError(f"domain_lists file {path!r} must hold a JSON object")
    return DomainLists(
        deny=_entries(obj, "deny", path),
        allow=_entries(obj, "allow", path),
        shorteners=SHORTENERS | _entries(obj, "shorteners", path),
    )


@dataclass(slots=True)
class DomainListsFile:
    """The domain lists of Settings.domain_lists, re-read when the file's mtime changes (looked at
    no more than every `check_every` seconds), so moderators' edits apply without a restart.

    A file that breaks after start keeps the last good lists (logged); a bad file at start raises.
    """

    path: str
    check_every: float = LISTS_CHECK_SECONDS
    lists: DomainLists = field(init=False)
    _mtime: float | None = field(init=False, default=None)
    _checked: float = field(init=False, default=float("-inf"))

    def __post_init__(self) -> None:
        self.lists = DomainLists()
        if self.path:
            self._mtime = self._stat()
            self.lists = read_domain_lists(self.path)
            self._checked = time.monotonic()

    def _stat(self) -> float | None:
        try:
            return os.stat(self.path).st_mtime_ns / 1e9
        except OSError:
            return None

    def current(self, now: float | None = None) -> DomainLists:
        """The lists in force; `now` is a monotonic clock reading (tests pass their own)."""
        if not self.path:
            return self.lists
        now = time.monotonic() if now is None else now
        if now - self._checked < self.check_every:
            return self.lists
        self._checked = now
        mtime = self._stat()
        if mtime is None or mtime == self._mtime:
            return self.lists
        try:
            self.lists = read_domain_lists(self.path)
            self._mtime = mtime
            log.info(
                "domain_lists_reloaded path=%s deny=%d allow=%d",
                self.path,
                len(self.lists.deny),
                len(self.lists.allow),
            )
        except ConfigError as exc:
            log.warning("domain_lists_reload_failed path=%s error=%s", self.path, exc)
        return self.lists


@dataclass(slots=True)
class LinkReport:
    links: list[Link] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    link_only: bool = False  # the comment says nothing but its links

    @property
    def domains(self) -> list[str]:
        return sorted({link.domain for link in self.links})


@lru_cache(maxsize=65536)
def _list_flags(link_host: str, lists: DomainLists) -> tuple[str, ...]:
    """The lists a host is on; cached, since the same hosts come back and lists rarely change."""
    return tuple(_flags(link_host, lists))


def _flags(link_host: str, lists: DomainLists) -> list[str]:
    flags = []
    if _listed(link_host, lists.shorteners):
        flags.append("shortener")
    if _listed(link_host, lists.deny):
        flags.append("denied")
    if _listed(link_host, lists.allow):
        flags.append("allowed")
    return flags


def extract_links(text: str, lists: DomainLists | None = None) -> LinkReport:
    """Find the links and e-mail addresses in a comment's text, as a careful reader would."""
    lists = lists or DomainLists()
    view = reader_view(text)
    report = LinkReport()
    found = candidates(view.text)
    rest: list[str] = []
    pos = 0
    for cand in found:
        if cand.kind == "email":
            local, _, raw_host = cand.text.rpartition("@")
            host = parse_host(raw_host)
            if host is not None and not host.ip:
                report.emails.append(f"{local.lower()}@{host.ascii}")
                rest.append(view.text[pos : cand.start])
                pos = cand.end
            continue
        start, end = view.span(cand.start, cand.end)
        original = text[start:end]
        fields = _link_fields(cand.text, cand.kind, original, lists)
        if fields is None:
            continue
        report.links.append(Link(original, start, end, *fields))
        rest.append(view.text[pos : cand.start])
        pos = cand.end
    if report.links:
        rest.append(view.text[pos:])
        report.link_only = not _two_words(rest)
    return report


@lru_cache(maxsize=65536)
def _link_fields(
    candidate: str, kind: str, original: str, lists: DomainLists
) -> tuple[str, str, str, tuple[str, ...], str | None] | None:
    """url, host, domain, flags and imitated name of a candidate that is a link, or None; cached,
    because the same links come back in comment after comment (and in one comment)."""
    url = _link_url(candidate, kind)
    if url is None:
        return None
    flags = list(_list_flags(url.host.ascii, lists))
    if url.host.ip:
        flags.append("ip_host")
    if url.host.homograph:
        flags.append("homograph")
    if url.userinfo:
        flags.append("userinfo")
    if OBFUSCATION_MARK.search(original) or url.userinfo or url.disguised:
        flags.append("obfuscated")
    return url.url, url.host.ascii, url.host.domain, tuple(flags), url.host.homograph


@lru_cache(maxsize=65536)
def _link_url(candidate: str, kind: str) -> Url | None:
    """The normal form of a candidate that is a link, or None (not a host, or prose); cached
    because the same links come back in comment after comment."""
    url = parse_url(candidate, schemed=kind != "bare")
    if url is None or (kind == "bare" and looks_like_prose(candidate, url)):
        return None
    return url


def _two_words(pieces: list[str]) -> bool:
    """True when the text outside the links holds at least two words."""
    seen = 0
    for piece in pieces:
        for _ in _WORD.finditer(piece):
            seen += 1
            if seen == 2:
                return True
    return False


def primary_domain(result: StageResult) -> str | None:
    """The domain a comment's campaign state is kept under: its first link that is not allowed,
    preferring one that is not a shortener (shorteners are shared by everyone)."""
    links = [lk for lk in result.data.get("links", ()) if "allowed" not in lk["flags"]]
    for link in links:
        if "shortener" not in link["flags"]:
            return str(link["domain"])
    return str(links[0]["domain"]) if links else None


def score(reasons: Iterable[Reason]) -> tuple[float, str]:
    """Score (capped sum of weights) and label of a set of reasons."""
    total = min(1.0, sum(r.weight for r in reasons))
    return total, "bad" if total >= 0.8 else "suspicious" if total >= 0.4 else "clean"


def _reason(code: str, text: str, evidence: str | None = None) -> Reason:
    return Reason(code, text, WEIGHTS[code], evidence)


def assess_links(text: str, lists: DomainLists | None = None) -> StageResult:
    """The link stage's verdict for one comment's text (without campaign state)."""
    report = extract_links(text, lists)
    if not report.links and not report.emails:  # most comments: nothing to weigh
        return StageResult("links", "clean", 0.0, [], VERSION, {"links": [], "domains": [], "emails": []})
    reasons: list[Reason] = []
    seen: set[tuple[str, str]] = set()

    def add(code: str, message: str, evidence: str) -> None:
        if (code, evidence) not in seen:  # one reason per domain, however often it is linked
            seen.add((code, evidence))
            reasons.append(_reason(code, message, evidence))

    for link in report.links:
        if "allowed" in link.flags:
            continue
        if "denied" in link.flags:
            add("link.denied", f"deny-listed domain: {link.domain}", link.domain)
        if "homograph" in link.flags:
            add("link.homograph", f"look-alike host {link.host} imitates {link.imitates}", link.host)
        if "shortener" in link.flags:
            add("link.shortener", f"shortened link: {link.domain}", link.domain)
        if "ip_host" in link.flags:
            add("link.ip_host", f"link to a bare IP address: {link.host}", link.host)
        if "obfuscated" in link.flags:
            add("link.obfuscated", f"link written to dodge filters: {link.domain}", link.domain)
    unlisted = [link for link in report.links if "allowed" not in link.flags]
    domains = sorted({link.domain for link in unlisted})
    distinct = len({link.url for link in unlisted})
    if unlisted:
        reasons.append(
            _reason("link.present", f"{distinct} link(s): {', '.join(domains)}", ",".join(domains))
        )
    if distinct >= MANY_LINKS:
        reasons.append(_reason("link.many", f"{distinct} links in one comment", str(distinct)))
    if unlisted and report.link_only:
        reasons.append(_reason("link.only", "the comment is nothing but links"))
    if report.emails:
        reasons.append(_reason("link.email", "contact e-mail address in text", ",".join(report.emails)))
    total, label = score(reasons)
    data = {
        "links": [link.to_dict() for link in report.links],
        "domains": report.domains,
        "emails": report.emails,
    }
    return StageResult("links", label, total, reasons, VERSION, data)


def campaign_domain(result: StageResult) -> str | None:
    """The domain whose campaign state the comment updates, or None (no link, or a domain that
    everyone links: many comments linking it is no campaign)."""
    domain = primary_domain(result)
    return None if domain is None or domain in COMMON_DOMAINS else domain


def with_campaign(
    result: StageResult, domain: str, seen: Sightings, rules: CampaignRules = DEFAULT_RULES
) -> StageResult:
    """Add link.campaign when the domain's sightings (this comment included) make a campaign."""
    if not seen.is_campaign(rules):
        return result
    reasons = [
        *result.reasons,
        _reason(
            "link.campaign",
            f"{domain} linked by {seen.comments} comments from {seen.authors} authors "
            f"in {seen.threads} threads within {rules.window / 3600:g} h",
            domain,
        ),
    ]
    total, label = score(reasons)
    return replace(result, label=label, score=total, reasons=reasons)


def add_campaign(
    result: StageResult,
    state: CampaignState,
    *,
    comment_id: str,
    author: str | None,
    thread_id: str,
    now: float,
    rules: CampaignRules = DEFAULT_RULES,
) -> StageResult:
    """Record the comment's primary domain in the campaign state and add link.campaign when that
    domain is being pushed across comments, threads or authors. `now` is the comment's time."""
    domain = campaign_domain(result)
    if domain is None:
        return result
    return with_campaign(
        result, domain, observe(state, domain, comment_id, author, thread_id, now, rules), rules
    )
