"""The labelled link set: comment text -> the registrable domains a careful moderator would find.

Written for streamproc; every case is made up. Precision and recall of domain extraction over the
whole table are printed (pytest -s) and must both be 1.0.
"""

from __future__ import annotations

import pytest

from streamproc.detect.links import extract_links

# (category, text, expected registrable domains)
CASES: list[tuple[str, str, tuple[str, ...]]] = [
    # plain text with a scheme
    ("plain", "see https://example.com for details", ("example.com",)),
    ("plain", "http://example.org", ("example.org",)),
    ("plain", "HTTPS://EXAMPLE.NET/PATH", ("example.net",)),
    ("plain", "ftp://files.example.com/pub/readme.txt", ("example.com",)),
    ("plain", "two: https://a-site.com and http://b-site.org/x", ("a-site.com", "b-site.org")),
    ("plain", "https://news.example.co.uk/story?id=7", ("example.co.uk",)),
    ("plain", "start https://deep.sub.example.com.au/a/b/c end", ("example.com.au",)),
    ("plain", "line one\nhttps://example.io\nline three", ("example.io",)),
    ("plain", "tab\thttps://example.dev\tend", ("example.dev",)),
    ("plain", "text,https://example.com,text", ("example.com",)),
    ("plain", "same https://example.com twice https://example.com/again", ("example.com",)),
    ("plain", "my_link=https://example.com", ("example.com",)),
    # paths, queries, fragments, ports
    ("parts", "https://example.com/a/b?x=1&y=2#frag", ("example.com",)),
    ("parts", "http://example.com:8080/admin", ("example.com",)),
    ("parts", "https://example.com:443/", ("example.com",)),
    ("parts", "http://example.com/?q=a+b%20c", ("example.com",)),
    ("parts", "http://example.com/#/spa/route", ("example.com",)),
    ("parts", "https://example.com/search?q=(test)", ("example.com",)),
    ("parts", "https://example.com/~user/page.html", ("example.com",)),
    ("parts", "https://example.com/path;params", ("example.com",)),
    ("parts", "https://shop.example.com/item/123-blue-shoes?ref=abc", ("example.com",)),
    ("parts", "https://example.com:65535/x", ("example.com",)),
    # IP literal hosts
    ("ip", "http://192.168.1.10/login", ("192.168.1.10",)),
    ("ip", "go to http://8.8.8.8", ("8.8.8.8",)),
    ("ip", "http://[2001:db8::1]/page", ("2001:db8::1",)),
    ("ip", "http://[2001:db8:0:0:0:0:0:2]:8080/", ("2001:db8::2",)),
    ("ip", "visit 203.0.113.5/promo today", ("203.0.113.5",)),
    ("ip", "at 198.51.100.7:8000 now", ("198.51.100.7",)),
    # punycode and unicode hosts
    ("idn", "https://xn--bcher-kva.de/", ("xn--bcher-kva.de",)),
    ("idn", "https://bücher.de/", ("xn--bcher-kva.de",)),
    ("idn", "пример.рф", ("xn--e1afmkfd.xn--p1ai",)),
    ("idn", "http://пример.рф/путь", ("xn--e1afmkfd.xn--p1ai",)),
    ("idn", "see www.münchen.de please", ("xn--mnchen-3ya.de",)),
    ("idn", "http://例え.jp", ("xn--r8jz45g.jp",)),
    ("idn", "例子.中国", ("xn--fsqu00a.xn--fiqs8s",)),
    ("idn", "请访问example.com谢谢", ("example.com",)),
    ("idn", "こちらwww.example.jpへ", ("example.jp",)),
    # bare domains without a scheme
    ("bare", "www.example.com", ("example.com",)),
    ("bare", "go to www.example.com.", ("example.com",)),
    ("bare", "example.co.uk/page", ("example.co.uk",)),
    ("bare", "visit example.com today", ("example.com",)),
    ("bare", "Visit Example.COM today", ("example.com",)),
    ("bare", "example.net/path?x=1", ("example.net",)),
    ("bare", "shop at cheap-pills.xyz now", ("cheap-pills.xyz",)),
    ("bare", "best deals on mystore.online", ("mystore.online",)),
    ("bare", "t.me/somechannel", ("t.me",)),
    ("bare", "youtu.be/abc123", ("youtu.be",)),
    ("bare", "www.example.it", ("example.it",)),
    ("bare", "example.so/path", ("example.so",)),
    ("bare", "subdomain.example.org", ("example.org",)),
    ("bare", "mail.google.com is down?", ("google.com",)),
    ("bare", "x.com", ("x.com",)),
    # private suffixes: each blog is its own registrable domain
    ("psl", "read myblog.blogspot.com", ("myblog.blogspot.com",)),
    ("psl", "read http://cheap-loans.blogspot.in/post", ("cheap-loans.blogspot.in",)),
    ("psl", "read cheap-loans.blogspot.co.uk/", ("cheap-loans.blogspot.co.uk",)),
    ("psl", "someone.github.io/project", ("someone.github.io",)),
    ("psl", "https://pages.someone.github.io", ("someone.github.io",)),
    ("psl", "https://mysite.wordpress.com/about", ("mysite.wordpress.com",)),
    ("psl", "a.b.blogspot.de", ("b.blogspot.de",)),
    # trailing punctuation and wrapping brackets
    ("punct", "(see https://en.wikipedia.org/wiki/Mali_(country)).", ("wikipedia.org",)),
    ("punct", "look (https://example.com)", ("example.com",)),
    ("punct", "look [https://example.com]", ("example.com",)),
    ("punct", "is it https://example.com?", ("example.com",)),
    ("punct", "wow https://example.com!", ("example.com",)),
    ("punct", 'he said "https://example.com"', ("example.com",)),
    ("punct", "he said 'https://example.com'", ("example.com",)),
    ("punct", "end: https://example.com/path.", ("example.com",)),
    (
        "punct",
        "list https://a-one.com, https://b-two.com; https://c-three.com",
        ("a-one.com", "b-two.com", "c-three.com"),
    ),
    ("punct", "{https://example.com}", ("example.com",)),
    ("punct", "*https://example.com*", ("example.com",)),
    ("punct", "(example.com)", ("example.com",)),
    ("punct", "see example.com...", ("example.com",)),
    ("punct", "<https://example.com>", ("example.com",)),
    # HTML inside comments
    ("html", '<a href="https://example.com">click</a>', ("example.com",)),
    ("html", "<a href='http://example.org/x'>x</a>", ("example.org",)),
    ("html", "<a href=http://example.net>x</a>", ("example.net",)),
    ("html", '<a class="x" href="https://example.com/?a=1&amp;b=2">go</a>', ("example.com",)),
    ("html", '<a href="https://evil.example">https://good.com</a>', ("good.com",)),
    ("html", '<a href="https://spam-site.com">good.com</a>', ("good.com", "spam-site.com")),
    ("html", "<p>visit example&#46;com</p>", ("example.com",)),
    ("html", "<b>example&#x2e;com</b>", ("example.com",)),
    ("html", "example&period;com", ("example.com",)),
    ("html", "https&#58;//example.com", ("example.com",)),
    ("html", "<div>no links here</div>", ()),
    ("html", '<img src="https://cdn.example.com/a.png">', ("example.com",)),
    ("html", "a &amp; b &lt; c", ()),
    ("html", '<A HREF="HTTPS://EXAMPLE.COM">X</A>', ("example.com",)),
    # Markdown
    ("markdown", "[click here](https://example.com)", ("example.com",)),
    ("markdown", "[example.com](https://other-site.net/x)", ("example.com", "other-site.net")),
    ("markdown", '[t](https://example.com "title")', ("example.com",)),
    ("markdown", "![img](https://img.example.org/a.png)", ("example.org",)),
    ("markdown", "**https://example.com**", ("example.com",)),
    ("markdown", "`www.example.com`", ("example.com",)),
    ("markdown", "[ref]: https://example.com/page", ("example.com",)),
    # obfuscation
    ("obfuscated", "visit example dot com", ("example.com",)),
    ("obfuscated", "visit example DOT com now", ("example.com",)),
    ("obfuscated", "example(.)com", ("example.com",)),
    ("obfuscated", "example[.]com", ("example.com",)),
    ("obfuscated", "example{.}com", ("example.com",)),
    ("obfuscated", "example[dot]com", ("example.com",)),
    ("obfuscated", "example (dot) com", ("example.com",)),
    ("obfuscated", "example [ . ] com", ("example.com",)),
    ("obfuscated", "hxxp://example.com/x", ("example.com",)),
    ("obfuscated", "hxxps://example.com", ("example.com",)),
    ("obfuscated", "hxxps[:]//example[.]com/x", ("example.com",)),
    ("obfuscated", "w w w . example . com", ("example.com",)),
    ("obfuscated", "e x a m p l e . c o m", ("example.com",)),
    ("obfuscated", "www dot example dot co dot uk", ("example.co.uk",)),
    ("obfuscated", "example . com", ("example.com",)),
    ("obfuscated", "example。com", ("example.com",)),
    ("obfuscated", "example．com", ("example.com",)),
    ("obfuscated", "example｡com", ("example.com",)),
    ("obfuscated", "ｅｘａｍｐｌｅ．ｃｏｍ", ("example.com",)),
    ("obfuscated", "exam\u200bple.com", ("example.com",)),
    ("obfuscated", "exam\u00adple.com", ("example.com",)),
    ("obfuscated", "example\u200d.com", ("example.com",)),
    ("obfuscated", "http://good.com@evil.com/", ("evil.com",)),
    ("obfuscated", "https://user:pass@evil.com/x", ("evil.com",)),
    ("obfuscated", "http://example.com./", ("example.com",)),
    ("obfuscated", "http://%65xample.com/", ("example.com",)),
    ("obfuscated", "𝐞𝐱𝐚𝐦𝐩𝐥𝐞.com", ("example.com",)),
    ("obfuscated", "ｅｘａｍｐｌｅ.com", ("example.com",)),
    ("obfuscated", "http://3232235777/", ("192.168.1.1",)),
    ("obfuscated", "example&#46;com", ("example.com",)),
    ("obfuscated", "example\u2024com", ("example.com",)),
    # homographs: reported in punycode
    ("homograph", "аррӏе.com", ("xn--80ak6aa92e.com",)),
    ("homograph", "https://аpple.com/login", ("xn--pple-43d.com",)),
    ("homograph", "https://pаypal.com", ("xn--pypal-4ve.com",)),
    ("homograph", "www.gοοgle.com", ("xn--ggle-0nda.com",)),
    # e-mail addresses are contact details, not links
    ("email", "write to john.doe@example.com", ()),
    ("email", "contact: sales@shop.example.co.uk.", ()),
    ("email", "JANE+tag@Example.ORG", ()),
    ("email", "mail me at me@example.com or see example.org", ("example.org",)),
    # ordinary prose and abbreviations
    ("prose", "The U.S. economy grew.", ()),
    ("prose", "e.g. apples, i.e. fruit", ()),
    ("prose", "Mr.Smith and Dr.Jones arrived", ()),
    ("prose", "open file.txt and data.csv", ()),
    ("prose", "version 2.0.1 is out", ()),
    ("prose", "it costs $4.50 today", ()),
    ("prose", "wait... what?", ()),
    ("prose", "hmm . . . no", ()),
    ("prose", "I agree.So what?", ()),
    ("prose", "hello.It is me", ()),
    ("prose", "see readme.md and setup.py", ()),
    ("prose", "download report.zip now", ()),
    ("prose", "the dot com bubble burst", ()),
    ("prose", "at 10.30am we met", ()),
    ("prose", "pi is 3.14159", ()),
    ("prose", "section 4.2.1 says", ()),
    ("prose", "Ph.D. and M.Sc. degrees", ()),
    ("prose", "U.K. and E.U. rules", ()),
    ("prose", "St.Louis is nice", ()),
    ("prose", "No.1 fan", ()),
    ("prose", "node.js and vue.js", ()),
    ("prose", "it was 1.2.3.4 in the release notes", ()),
    ("prose", "a b c d e f", ()),
    ("prose", "", ()),
    ("prose", "Great article, thanks for sharing!", ()),
    ("prose", "I said no.Then I left", ()),
    ("prose", "http://localhost:8000/debug", ()),
    ("prose", "http:// is a scheme", ()),
    ("prose", "www. is a prefix", ()),
    ("prose", "a.b", ()),
    ("prose", "the value is 0.5.", ()),
    ("prose", "snake_case.py", ()),
    ("prose", "co.uk", ()),
    ("prose", "costs 1.000.000 euros", ()),
    ("prose", "see fig.3 and eq.4", ()),
    ("prose", "hi@ there", ()),
    ("prose", "emoji 🙂.🙂 here", ()),
    ("prose", "Call 555.123.4567 for info", ()),
    ("prose", "Meet at 5 p.m. on Jan. 3rd", ()),
    ("prose", "The file is at C:\\Users\\me\\doc.txt", ()),
    ("prose", "Use import os.path in Python", ()),
    ("prose", "I scored 9.5/10", ()),
    ("prose", "ratio 16:9 and 4:3, time 12:30:45, 1.5x speed", ()),
    ("prose", "lol...ok and ok.....fine", ()),
    ("prose", "A.I. is changing things; J.R.R. Tolkien wrote it", ()),
    ("prose", "Windows 10.0.19045 update", ()),
    ("prose", "Going to the U.S.A.! yay", ()),
    ("prose", "Prices: $9.99, €4,50, £3.20", ()),
    # whole comments
    (
        "comment",
        "Great read! I wrote about this too: https://myblog.example.net/2026/01/post-title/ - thoughts?",
        ("example.net",),
    ),
    ("comment", "Email support@company.com or visit company.com/help", ("company.com",)),
    ("comment", "Visit us at WWW.EXAMPLE.COM", ("example.com",)),
    ("comment", "pics at imgur.com/a/xyz and youtube.com/watch?v=abc", ("imgur.com", "youtube.com")),
    ("comment", "the website is example dot org", ("example.org",)),
    ("comment", "http://example.com/path/to/page.html?utm_source=x#top", ("example.com",)),
]

_IDS = [f"{i:03d}-{cat}" for i, (cat, _, _) in enumerate(CASES)]


@pytest.mark.parametrize(("category", "text", "expected"), CASES, ids=_IDS)
def test_domains_found(category: str, text: str, expected: tuple[str, ...]) -> None:
    assert extract_links(text).domains == sorted(expected)


def test_table_is_broad() -> None:
    categories = {cat for cat, _, _ in CASES}
    assert len(CASES) >= 150
    assert {
        "plain",
        "html",
        "markdown",
        "bare",
        "obfuscated",
        "homograph",
        "prose",
        "email",
        "ip",
    } <= categories
    assert sum(1 for cat, _, _ in CASES if cat == "prose") >= 30


def test_precision_and_recall() -> None:
    tp = fp = fn = 0
    for _, text, expected in CASES:
        found = set(extract_links(text).domains)
        tp += len(found & set(expected))
        fp += len(found - set(expected))
        fn += len(set(expected) - found)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(
        f"\nlink domains: {len(CASES)} cases, tp={tp} fp={fp} fn={fn} precision={precision:.4f} recall={recall:.4f}"
    )
    assert precision == 1.0
    assert recall == 1.0
