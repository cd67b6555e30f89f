"""Classification: reason codes, labels and scores of the link stage, the domain lists and their
reload without restart."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from streamproc.detect.links import (
    SHORTENERS,
    DomainLists,
    DomainListsFile,
    assess_links,
    primary_domain,
    read_domain_lists,
)
from streamproc.errors import ConfigError

LISTS = DomainLists(
    deny=frozenset({"evil-pills.com", "xn--80ak6aa92e.com"}),
    allow=frozenset({"trusted-news.org"}),
    shorteners=SHORTENERS | frozenset({"go.example.net"}),
)

# text -> (label, reason codes in order)
ASSESS = [
    ("Nice article, I agree with the author.", ("clean", [])),
    ("More on this at https://example.com/report", ("clean", ["link.present"])),
    ("https://example.com/report", ("suspicious", ["link.present", "link.only"])),
    ("Read https://trusted-news.org/a please", ("clean", [])),
    ("https://trusted-news.org/a", ("clean", [])),
    ("cheap at www.evil-pills.com hurry", ("bad", ["link.denied", "link.present"])),
    ("sale on shop.evil-pills.com/x today", ("bad", ["link.denied", "link.present"])),
    ("watch this https://bit.ly/3abc ok", ("suspicious", ["link.shortener", "link.present"])),
    ("look at go.example.net/x pal", ("suspicious", ["link.shortener", "link.present"])),
    ("connect to http://203.0.113.9/x now", ("suspicious", ["link.ip_host", "link.present"])),
    ("visit cheap dot com for pills", ("bad", ["link.obfuscated", "link.present"])),
    ("login at аррӏе.com now", ("bad", ["link.denied", "link.homograph", "link.present"])),
    ("login at https://pаypal.com now", ("bad", ["link.homograph", "link.present"])),
    ("please see http://trusted-news.org@evil.com/x", ("bad", ["link.obfuscated", "link.present"])),
    ("a.com/1 b.com/2 c.com/3 are all good sites to read", ("suspicious", ["link.present", "link.many"])),
    ("https://a.com https://b.com", ("suspicious", ["link.present", "link.only"])),
    ("write me at deals@example.com", ("clean", ["link.email"])),
    ("check example.org or mail deals@example.com", ("suspicious", ["link.present", "link.email"])),
    ("https://bit.ly/a https://bit.ly/b", ("bad", ["link.shortener", "link.present", "link.only"])),
]


@pytest.mark.parametrize(("text", "expected"), ASSESS)
def test_assess(text: str, expected: tuple[str, list[str]]) -> None:
    result = assess_links(text, LISTS)
    assert (result.label, [r.code for r in result.reasons]) == expected
    assert result.stage == "links"
    assert 0.0 <= result.score <= 1.0
    assert all(r.code.startswith("link.") for r in result.reasons)


def test_result_data_contract() -> None:
    result = assess_links("see https://b.example.com/x and a.example.org, mail me@x.com", LISTS)
    data = result.to_dict()["data"]
    assert set(data) == {"links", "domains", "emails"}
    assert data["domains"] == ["example.com", "example.org"]
    assert data["emails"] == ["me@x.com"]
    assert [set(lk) for lk in data["links"]] == [{"original", "span", "url", "host", "domain", "flags"}] * 2


# result of a text -> the domain its campaign state is kept under
PRIMARY = [
    ("no links", None),
    ("https://bit.ly/x then spam-shop.com", "spam-shop.com"),
    ("https://bit.ly/x only", "bit.ly"),
    ("trusted-news.org/a and other.com", "other.com"),
    ("trusted-news.org/a only", None),
    ("first.com second.com", "first.com"),
]


@pytest.mark.parametrize(("text", "expected"), PRIMARY)
def test_primary_domain(text: str, expected: str | None) -> None:
    assert primary_domain(assess_links(text, LISTS)) == expected


def test_shorteners_come_from_the_data_file() -> None:
    assert {"bit.ly", "tinyurl.com", "t.co"} <= SHORTENERS
    assert "example.com" not in SHORTENERS


def _write(path: Path, obj: object, mtime: float) -> None:
    path.write_bytes(orjson.dumps(obj))
    os.utime(path, (mtime, mtime))


def test_lists_file_reloads_when_mtime_changes(tmp_path: Path) -> None:
    path = tmp_path / "lists.json"
    _write(path, {"deny": ["first.com"], "allow": ["Bücher.de"]}, 1_000_000)
    source = DomainListsFile(str(path), check_every=5.0)
    assert source.current(now=0.0).deny == frozenset({"first.com"})
    assert source.current(now=0.0).allow == frozenset({"xn--bcher-kva.de"})
    _write(path, {"deny": ["second.com"], "shorteners": ["sh.rt"]}, 1_000_100)
    # Not looked at again before check_every has passed since the last look.
    assert source.current(now=source._checked + 1.0).deny == frozenset({"first.com"})
    reloaded = source.current(now=source._checked + 5.0)
    assert reloaded.deny == frozenset({"second.com"})
    assert "sh.rt" in reloaded.shorteners and "bit.ly" in reloaded.shorteners
    assert assess_links("buy at second.com now", reloaded).label == "bad"


def test_lists_file_keeps_last_good_lists_on_a_broken_edit(tmp_path: Path) -> None:
    path = tmp_path / "lists.json"
    _write(path, {"deny": ["first.com"]}, 1_000_000)
    source = DomainListsFile(str(path), check_every=0.0)
    path.write_text("{not json")
    os.utime(path, (1_000_200, 1_000_200))
    assert source.current(now=source._checked + 1.0).deny == frozenset({"first.com"})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{nope", "could not be read as JSON"),
        (b"[1, 2]", "must hold a JSON object"),
        (b'{"deny": "evil.com"}', "must be a list of domain names"),
    ],
)
def test_bad_lists_file_at_start_raises(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "lists.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        read_domain_lists(str(path))


def test_no_lists_file_gives_defaults() -> None:
    assert DomainListsFile("").current() == DomainLists()
