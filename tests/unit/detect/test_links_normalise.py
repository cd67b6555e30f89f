"""Link normal form, spans into the original text, and per-link flags."""

from __future__ import annotations

import pytest

from streamproc.detect.links import extract_links
from streamproc.detect.urls import trim

# text -> (original, [start, end], url, host, domain, flags) of each link, in order
LINKS: list[tuple[str, list[tuple[str, list[int], str, str, str, list[str]]]]] = [
    (
        "see HTTPS://Example.COM/Path?Q=1",
        [
            (
                "HTTPS://Example.COM/Path?Q=1",
                [4, 32],
                "https://example.com/Path?Q=1",
                "example.com",
                "example.com",
                [],
            )
        ],
    ),
    (
        "http://example.com:80/a",
        [("http://example.com:80/a", [0, 23], "http://example.com/a", "example.com", "example.com", [])],
    ),
    (
        "https://example.com:8443",
        [
            (
                "https://example.com:8443",
                [0, 24],
                "https://example.com:8443/",
                "example.com",
                "example.com",
                [],
            )
        ],
    ),
    (
        "ftp://example.com:21/f",
        [("ftp://example.com:21/f", [0, 22], "ftp://example.com/f", "example.com", "example.com", [])],
    ),
    (
        "http://example.com./x",
        [("http://example.com./x", [0, 21], "http://example.com/x", "example.com", "example.com", [])],
    ),
    (
        "go www.example.com.",
        [("www.example.com", [3, 18], "http://www.example.com/", "www.example.com", "example.com", [])],
    ),
    (
        "http://good.com@evil.com/x",
        [
            (
                "http://good.com@evil.com/x",
                [0, 26],
                "http://evil.com/x",
                "evil.com",
                "evil.com",
                ["userinfo", "obfuscated"],
            )
        ],
    ),
    (
        "https://bücher.de/a",
        [
            (
                "https://bücher.de/a",
                [0, 19],
                "https://xn--bcher-kva.de/a",
                "xn--bcher-kva.de",
                "xn--bcher-kva.de",
                [],
            )
        ],
    ),
    (
        "аррӏе.com",
        [
            (
                "аррӏе.com",
                [0, 9],
                "http://xn--80ak6aa92e.com/",
                "xn--80ak6aa92e.com",
                "xn--80ak6aa92e.com",
                ["homograph"],
            )
        ],
    ),
    (
        "http://[2001:db8::1]:8080/",
        [
            (
                "http://[2001:db8::1]:8080/",
                [0, 26],
                "http://[2001:db8::1]:8080/",
                "[2001:db8::1]",
                "2001:db8::1",
                ["ip_host"],
            )
        ],
    ),
    (
        "http://3232235777/",
        [
            (
                "http://3232235777/",
                [0, 18],
                "http://192.168.1.1/",
                "192.168.1.1",
                "192.168.1.1",
                ["ip_host", "obfuscated"],
            )
        ],
    ),
    (
        "a example dot com b",
        [("example dot com", [2, 17], "http://example.com/", "example.com", "example.com", ["obfuscated"])],
    ),
    (
        "x exam\u200bple.com y",
        [("exam\u200bple.com", [2, 14], "http://example.com/", "example.com", "example.com", ["obfuscated"])],
    ),
    (
        "hxxps[:]//evil[.]com/p",
        [("hxxps[:]//evil[.]com/p", [0, 22], "https://evil.com/p", "evil.com", "evil.com", ["obfuscated"])],
    ),
    (
        "ok ｅｘａｍｐｌｅ．ｃｏｍ",
        [
            (
                "ｅｘａｍｐｌｅ．ｃｏｍ",
                [3, 14],
                "http://example.com/",
                "example.com",
                "example.com",
                ["obfuscated"],
            )
        ],
    ),
    (
        '<a href="http://ex&#46;com/?a=1&amp;b=2">x</a>',
        [
            (
                "http://ex&#46;com/?a=1&amp;b=2",
                [9, 39],
                "http://ex.com/?a=1&b=2",
                "ex.com",
                "ex.com",
                ["obfuscated"],
            )
        ],
    ),
    (
        '<a href="/local">x</a> <a href="//cdn.example.com/j">y</a>',
        [("//cdn.example.com/j", [32, 51], "http://cdn.example.com/j", "cdn.example.com", "example.com", [])],
    ),
    ("[t](https://t.co/x)", [("https://t.co/x", [4, 18], "https://t.co/x", "t.co", "t.co", ["shortener"])]),
    (
        "(see https://en.wikipedia.org/wiki/Mali_(country)).",
        [
            (
                "https://en.wikipedia.org/wiki/Mali_(country)",
                [5, 49],
                "https://en.wikipedia.org/wiki/Mali_(country)",
                "en.wikipedia.org",
                "wikipedia.org",
                [],
            )
        ],
    ),
    (
        "https&#58;//ex&#97;mple.com",
        [
            (
                "https&#58;//ex&#97;mple.com",
                [0, 27],
                "https://example.com/",
                "example.com",
                "example.com",
                ["obfuscated"],
            )
        ],
    ),
    (
        "http://%65xample.com/",
        [
            (
                "http://%65xample.com/",
                [0, 21],
                "http://example.com/",
                "example.com",
                "example.com",
                ["obfuscated"],
            )
        ],
    ),
    (
        "𝐞𝐱𝐚𝐦𝐩𝐥𝐞.com",
        [("𝐞𝐱𝐚𝐦𝐩𝐥𝐞.com", [0, 11], "http://example.com/", "example.com", "example.com", ["obfuscated"])],
    ),
    (
        "请访问example.com谢谢",
        [("example.com", [3, 14], "http://example.com/", "example.com", "example.com", [])],
    ),
    (
        "😀 https://example.com",
        [("https://example.com", [2, 21], "https://example.com/", "example.com", "example.com", [])],
    ),
    # the forms of issue 12: where the span starts and which are written to dodge filters
    (
        "see //www.example.com/a",
        [("//www.example.com/a", [4, 23], "http://www.example.com/a", "www.example.com", "example.com", [])],
    ),
    ("- -example.com", [("example.com", [3, 14], "http://example.com/", "example.com", "example.com", [])]),
    ("👉example.com👈", [("example.com", [1, 12], "http://example.com/", "example.com", "example.com", [])]),
    (
        "<example.org/p>",
        [("example.org/p", [1, 14], "http://example.org/p", "example.org", "example.org", [])],
    ),
    (
        "hxxp[:]//example[.com/x",
        [
            (
                "hxxp[:]//example[.com/x",
                [0, 23],
                "http://example.com/x",
                "example.com",
                "example.com",
                ["obfuscated"],
            )
        ],
    ),
    (
        "example\\(.)com",
        [("example\\(.)com", [0, 14], "http://example.com/", "example.com", "example.com", ["obfuscated"])],
    ),
    (
        "h00p://example.com",
        [
            (
                "h00p://example.com",
                [0, 18],
                "http://example.com/",
                "example.com",
                "example.com",
                ["obfuscated"],
            )
        ],
    ),
    (
        "http:\\\\example.com",
        [
            (
                "http:\\\\example.com",
                [0, 18],
                "http://example.com/",
                "example.com",
                "example.com",
                ["obfuscated"],
            )
        ],
    ),
    (
        "say 'http://example.org/a' ok",
        [("http://example.org/a", [5, 25], "http://example.org/a", "example.org", "example.org", [])],
    ),
    (
        "http://✪deals.ws/1",
        [
            (
                "http://✪deals.ws/1",
                [0, 18],
                "http://xn--deals-2q2c.ws/1",
                "xn--deals-2q2c.ws",
                "xn--deals-2q2c.ws",
                [],
            )
        ],
    ),
    # folding finds only the characters that change; the others keep their own places
    (
        "don’t miss ｅｘａｍｐｌｅ．ｃｏｍ… really",
        [
            (
                "ｅｘａｍｐｌｅ．ｃｏｍ",
                [11, 22],
                "http://example.com/",
                "example.com",
                "example.com",
                ["obfuscated"],
            )
        ],
    ),
    (
        '<b>“x”</b> <a href="http://ex&#97;mple.com/ü">y</a> …',
        [
            (
                "http://ex&#97;mple.com/ü",
                [20, 44],
                "http://example.com/ü",
                "example.com",
                "example.com",
                ["obfuscated"],
            )
        ],
    ),
    # a login is ordinary for ssh and ftp, a trick on the web
    (
        "svn+ssh://user@svn.example.org/r",
        [
            (
                "svn+ssh://user@svn.example.org/r",
                [0, 32],
                "svn+ssh://svn.example.org/r",
                "svn.example.org",
                "example.org",
                [],
            )
        ],
    ),
    (
        "ftp://good.com@example.com/f",
        [
            (
                "ftp://good.com@example.com/f",
                [0, 28],
                "ftp://example.com/f",
                "example.com",
                "example.com",
                ["userinfo", "obfuscated"],
            )
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), LINKS)
def test_link_fields(text: str, expected: list[tuple[str, list[int], str, str, str, list[str]]]) -> None:
    links = [lk.to_dict() for lk in extract_links(text).links]
    got = [(d["original"], d["span"], d["url"], d["host"], d["domain"], d["flags"]) for d in links]
    assert got == expected


@pytest.mark.parametrize(("text", "expected"), LINKS)
def test_span_points_at_original(
    text: str, expected: list[tuple[str, list[int], str, str, str, list[str]]]
) -> None:
    for original, (start, end), *_ in expected:
        assert text[start:end] == original


TRIM = [
    ("https://x.com/a.", "https://x.com/a"),
    ("https://x.com/a).", "https://x.com/a"),
    ("https://x.com/a_(b)", "https://x.com/a_(b)"),
    ("https://x.com/a_(b))", "https://x.com/a_(b)"),
    ("https://x.com/[1]]", "https://x.com/[1]"),
    ("https://x.com/?q=1!?", "https://x.com/?q=1"),
    ("https://x.com/'\"", "https://x.com/"),
    ("x.com", "x.com"),
    ("...", ""),
]


@pytest.mark.parametrize(("value", "expected"), TRIM)
def test_trim(value: str, expected: str) -> None:
    assert trim(value) == expected


EMAILS = [
    ("write John.Doe@Example.com today", ["john.doe@example.com"]),
    ("a@b.com, c@d.org.", ["a@b.com", "c@d.org"]),
    ("user@пример.рф", ["user@xn--e1afmkfd.xn--p1ai"]),
    ("not@anemail", []),
    ("x@1.2.3.4", []),
    ("http://u@evil.com", []),
    ("<Sales@Example.ORG>", ["sales@example.org"]),
    ('"john doe"@example.com', ['"john doe"@example.com']),
    ('"x@unusual.com"@example.com', ['"x@unusual.com"@example.com']),
]


@pytest.mark.parametrize(("text", "expected"), EMAILS)
def test_emails(text: str, expected: list[str]) -> None:
    assert extract_links(text).emails == expected
