"""The labelled link set: comment text -> the registrable domains a careful moderator would find,
and for the link forms other extractors' test suites hold (issue 12), the exact normal URL too.

Written for streamproc; every case is made up, with generic hosts. Precision and recall of domain
extraction over both tables, and the count of cases per form, are printed (pytest -s); precision
and recall must both be 1.0.
"""

from __future__ import annotations

from collections import Counter

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
    # prose that the link forms of FORMS below must leave alone
    ("prose", "I was there.By the way, it rained", ()),
    ("prose", "we went in.At last the doors opened", ()),
    ("prose", "it works.Is that enough?", ()),
    ("prose", "thanks.Me too", ()),
    ("prose", "great game.Mr Smith agreed, thanks.Ms Jones", ()),
    ("prose", "see you.St Louis is next, from Europe.Asia then", ()),
    ("prose", "more fun.Shop owners agree", ()),
    ("prose", "Smith et.al. showed it", ()),
    ("prose", "she has a b.tech and he a M.Sc, I a B.Com", ()),
    ("prose", "U.S.Army and U.K.Navy", ()),
    ("prose", "run main.rs, then build.sh and notes.md", ()),
    ("prose", "open lib.so or report.ps", ()),
    ("prose", "it was funny.lol and you.how", ()),
    ("prose", "we walked 5.km and left at 10.pm", ()),
    ("prose", "v2.3.1 and Python 3.11 and 1.0.0-beta", ()),
    ("prose", "it fell to -5.5 degrees, rate -0.25", ()),
    ("prose", "// TODO fix this, x = 7 // 2", ()),
    ("prose", "<b>bold</b> and x < y > z <3 <o:p></o:p>", ()),
    ("prose", "path\\to\\file.txt and \\n or \\t", ()),
    ("prose", "a well-known co-op. --verbose", ()),
    ("prose", "I ❤ it. ★★★.★ 👍.", ()),
    ("prose", "edit __init__.py and my__var.attr", ()),
    ("prose", "the fxp team met the h00p crew", ()),
    ("prose", "'file.txt' and `config.yaml`", ()),
    ("prose", "see section (a.)b and [1.]2", ()),
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

# The forms of issue 12 that a careful reader counts as links: (form, text, links found as
# (normal URL, registrable domain), in order). A form with no links expected is a form that must
# not be reported.
FORMS: list[tuple[str, str, tuple[tuple[str, str], ...]]] = [
    ("scheme__", "http__example.com/x", (("http://example.com/x", "example.com"),)),
    (
        "scheme__",
        "see https__shop.example.net/a?b=1 now",
        (("https://shop.example.net/a?b=1", "example.net"),),
    ),
    ("scheme__", "HTTP__EXAMPLE.ORG", (("http://example.org/", "example.org"),)),
    ("separator", "http:\\\\example.com", (("http://example.com/", "example.com"),)),
    ("separator", "hxxp:\\\\example[.]net now", (("http://example.net/", "example.net"),)),
    ("separator", "go https:\\example.org", (("https://example.org/", "example.org"),)),
    (
        "separator",
        "http{:}//example.net and http[://]example.com/a",
        (("http://example.net/", "example.net"), ("http://example.com/a", "example.com")),
    ),
    ("[/]", "example.com[/]path", (("http://example.com/path", "example.com"),)),
    ("[/]", "http://example.org[/]a[/]b", (("http://example.org/a/b", "example.org"),)),
    ("[/]", "shop.example.net(/)item", (("http://shop.example.net/item", "example.net"),)),
    ("half bracket", "example[.com", (("http://example.com/", "example.com"),)),
    ("half bracket", "visit example.]org/x today", (("http://example.org/x", "example.org"),)),
    ("half bracket", "www.example(.net", (("http://www.example.net/", "example.net"),)),
    ("half bracket", "example.)com", (("http://example.com/", "example.com"),)),
    ("half bracket", "example{.org", (("http://example.org/", "example.org"),)),
    ("scheme name", "h00p://example.com/x", (("http://example.com/x", "example.com"),)),
    ("scheme name", "fxp://files.example.org/a", (("ftp://files.example.org/a", "example.org"),)),
    ("scheme name", "ftx://example.net", (("ftp://example.net/", "example.net"),)),
    (
        "scheme name",
        "hxtp://example.com and h**ps://example.org",
        (("http://example.com/", "example.com"), ("https://example.org/", "example.org")),
    ),
    ("backslash dot", "example\\(.)com", (("http://example.com/", "example.com"),)),
    ("backslash dot", "example\\.org/x", (("http://example.org/x", "example.org"),)),
    ("backslash dot", "www\\.example\\.net", (("http://www.example.net/", "example.net"),)),
    ("backslash dot", "example\\[.]com", (("http://example.com/", "example.com"),)),
    ("other scheme", "tcp://example.com:8080", (("tcp://example.com:8080/", "example.com"),)),
    ("other scheme", "udp://dns.example.org:53", (("udp://dns.example.org:53/", "example.org"),)),
    ("other scheme", "sftp://files.example.net/in", (("sftp://files.example.net/in", "example.net"),)),
    ("other scheme", "ftps://example.com/pub", (("ftps://example.com/pub", "example.com"),)),
    ("other scheme", "svn+ssh://svn.example.org/repo", (("svn+ssh://svn.example.org/repo", "example.org"),)),
    (
        "other scheme",
        "clone ssh://git@code.example.net:2222/x",
        (("ssh://code.example.net:2222/x", "example.net"),),
    ),
    ("after //", "see //www.example.com", (("http://www.example.com/", "example.com"),)),
    ("after //", "(//cdn.example.org/lib.js)", (("http://cdn.example.org/lib.js", "example.org"),)),
    ("after //", "//example.net/x", (("http://example.net/x", "example.net"),)),
    ("after -", "-example.com", (("http://example.com/", "example.com"),)),
    (
        "after -",
        "links: -example.org -example.net/x",
        (("http://example.org/", "example.org"), ("http://example.net/x", "example.net")),
    ),
    ("after -", "-https://example.com", (("https://example.com/", "example.com"),)),
    ("after \\", "\\example.com", (("http://example.com/", "example.com"),)),
    ("after \\", "open \\\\files.example.org\\share", (("http://files.example.org/", "example.org"),)),
    ("after \\", "C:\\>ping\\www.example.net", (("http://www.example.net/", "example.net"),)),
    ("<host>", "<example.com>", (("http://example.com/", "example.com"),)),
    ("<host>", "<example.org/path>", (("http://example.org/path", "example.org"),)),
    ("<host>", "see <www.example.net> now", (("http://www.example.net/", "example.net"),)),
    ("<host>", "<tcp://example.com:9000>", (("tcp://example.com:9000/", "example.com"),)),
    ("Mixed.Case", "Example.Net", (("http://example.net/", "example.net"),)),
    ("Mixed.Case", "visit example.Org now", (("http://example.org/", "example.org"),)),
    ("Mixed.Case", "Cheap-Pills.Com", (("http://cheap-pills.com/", "cheap-pills.com"),)),
    ("Mixed.Case", "try mail.Example.Info", (("http://mail.example.info/", "example.info"),)),
    ("short tld", "name.is", (("http://name.is/", "name.is"),)),
    (
        "short tld",
        "try my-agent.ai and cheap-loans.win",
        (("http://my-agent.ai/", "my-agent.ai"), ("http://cheap-loans.win/", "cheap-loans.win")),
    ),
    ("short tld", "see name.xxx", (("http://name.xxx/", "name.xxx"),)),
    (
        "short tld",
        "my-site.me and my-site.gg",
        (("http://my-site.me/", "my-site.me"), ("http://my-site.gg/", "my-site.gg")),
    ),
    (
        "short tld",
        "example.aero or example.ms",
        (("http://example.aero/", "example.aero"), ("http://example.ms/", "example.ms")),
    ),
    ("symbol idn", "http://✪deals.ws/1", (("http://xn--deals-2q2c.ws/1", "xn--deals-2q2c.ws"),)),
    ("symbol idn", "http://xn--deals-2q2c.ws/1", (("http://xn--deals-2q2c.ws/1", "xn--deals-2q2c.ws"),)),
    ("symbol idn", "★.ws/abc", (("http://xn--p3h.ws/abc", "xn--p3h.ws"),)),
    ("symbol idn", "go ➡.ws now", (("http://xn--hgi.ws/", "xn--hgi.ws"),)),
    ("symbol idn", "➡.ws/路", (("http://xn--hgi.ws/路", "xn--hgi.ws"),)),
    ("symbol idn", "👉example.com", (("http://example.com/", "example.com"),)),
    ("private suffix", "blogspot.com", (("http://blogspot.com/", "blogspot.com"),)),
    ("private suffix", "https://github.io/x", (("https://github.io/x", "github.io"),)),
    ("private suffix", "try herokuapp.com", (("http://herokuapp.com/", "herokuapp.com"),)),
    ("private suffix", "http://netlify.app/", (("http://netlify.app/", "netlify.app"),)),
    ("path end", "http://example.com/it's-here", (("http://example.com/it's-here", "example.com"),)),
    ("path end", "http://example.com/?q='a b'", (("http://example.com/?q='a", "example.com"),)),
    ("path end", "see http://example.org/?q='ab'.", (("http://example.org/?q='ab'", "example.org"),)),
    ("path end", "'http://example.org/a'", (("http://example.org/a", "example.org"),)),
    ("path end", "`http://example.net/a` ok", (("http://example.net/a", "example.net"),)),
    ("path end", "http://example.com/a>b", (("http://example.com/a>b", "example.com"),)),
    ("path end", "http://example.com/a`b`c", (("http://example.com/a`b`c", "example.com"),)),
    ("path end", "he said 'see https://example.org/x' and left", (("https://example.org/x", "example.org"),)),
    ("bad host", "http://-example.com", ()),
    ("bad host", "https://example-.org/x", ()),
    ("bad host", "https://-bad.example.net/x", ()),
]

# E-mail forms: (form, text, addresses). An e-mail is contact data, not a link.
EMAIL_FORMS: list[tuple[str, str, tuple[str, ...]]] = [
    ("<email>", "<user@example.com>", ("user@example.com",)),
    ("<email>", "Write to <Sales@Example.ORG> today", ("sales@example.org",)),
    ("quoted email", '"john doe"@example.com', ('"john doe"@example.com',)),
    ("quoted email", 'mail "a.b@c.com"@example.org now', ('"a.b@c.com"@example.org',)),
]

_IDS = [f"{i:03d}-{cat}" for i, (cat, _, _) in enumerate(CASES)]


@pytest.mark.parametrize(("category", "text", "expected"), CASES, ids=_IDS)
def test_domains_found(category: str, text: str, expected: tuple[str, ...]) -> None:
    assert extract_links(text).domains == sorted(expected)


@pytest.mark.parametrize(
    ("form", "text", "expected"), FORMS, ids=[f"{i:03d}-{f}" for i, (f, _, _) in enumerate(FORMS)]
)
def test_form_urls(form: str, text: str, expected: tuple[tuple[str, str], ...]) -> None:
    assert tuple((lk.url, lk.domain) for lk in extract_links(text).links) == expected


@pytest.mark.parametrize(("form", "text", "expected"), EMAIL_FORMS)
def test_email_forms(form: str, text: str, expected: tuple[str, ...]) -> None:
    report = extract_links(text)
    assert (tuple(report.emails), report.domains) == (expected, [])


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
    assert sum(1 for cat, _, _ in CASES if cat == "prose") >= 50
    per_form = Counter([form for form, _, _ in FORMS] + [form for form, _, _ in EMAIL_FORMS])
    assert len(per_form) == 19 and min(per_form.values()) >= 2, per_form


def test_precision_and_recall() -> None:
    tp = fp = fn = 0
    table = [(cat, text, set(expected)) for cat, text, expected in CASES]
    table += [(form, text, {domain for _, domain in expected}) for form, text, expected in FORMS]
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for form, text, expected in table:
        found = set(extract_links(text).domains)
        tp += len(found & expected)
        fp += len(found - expected)
        fn += len(expected - found)
        right[form] += found == expected
        total[form] += 1
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(
        f"\nlink domains: {len(table)} cases, tp={tp} fp={fp} fn={fn} precision={precision:.4f} recall={recall:.4f}"
    )
    print(
        "cases right per form: " + ", ".join(f"{form} {right[form]}/{n}" for form, n in sorted(total.items()))
    )
    assert precision == 1.0
    assert recall == 1.0
