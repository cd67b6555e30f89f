"""Throughput of the link stage core alone (no Kafka): comments/s on typical ~300-byte comments
with and without links. Prints figures; not a test. Run: .venv/bin/python bench/bench_links.py"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from streamproc.detect.campaigns import CampaignRules
from streamproc.detect.links import DomainLists, add_campaign, assess_links

PROSE = (
    "the article makes a good point about local elections and I think the council should listen "
    "more carefully to what residents said at the meeting last week although some of the numbers "
    "quoted seem a little off compared to the figures from the previous year e.g. the budget was "
    "4.5 million and not 5.2 as claimed in version 2.0 of the report"
)
WORDS = PROSE.split()
LINKS = [
    "https://www.example-news.com/2026/01/council-budget?ref=home",
    "see example.org/report.pdf",
    "https://bit.ly/3xYzAbC",
    "www.cheap-pills-online.xyz",
    '<a href="https://shop.example.co.uk/item?id=42&amp;src=c">deal</a>',
    "[source](https://en.wikipedia.org/wiki/Budget_(finance))",
    "visit bestdeals dot com",
]


def comment(rng: random.Random, with_links: bool, size: int = 300) -> str:
    out: list[str] = []
    length = 0
    link_at = {rng.randrange(5, 40)} if with_links else set()
    if with_links and rng.random() < 0.3:
        link_at.add(rng.randrange(5, 40))
    i = 0
    while length < size:
        piece = rng.choice(LINKS) if i in link_at else rng.choice(WORDS)
        if rng.random() < 0.08:
            piece += "."
        out.append(piece)
        length += len(piece) + 1
        i += 1
    return " ".join(out)[:size] if not with_links else " ".join(out)


def measure(name: str, texts: list[str], run: Callable[[str], object], seconds: float) -> None:
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for text in texts:
            run(text)
        done += len(texts)
    elapsed = time.perf_counter() - start
    avg = sum(len(t.encode()) for t in texts) / len(texts)
    print(f"{name:38s} {done / elapsed:10,.0f} comments/s  ({avg:.0f} bytes avg, {done} comments)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement (2)")
    args = parser.parse_args()
    rng = random.Random(7)
    plain = [comment(rng, False) for _ in range(500)]
    linked = [comment(rng, True) for _ in range(500)]
    lists = DomainLists(deny=frozenset({"cheap-pills-online.xyz"}))
    state: dict[str, object] = {}
    rules = CampaignRules()
    counter = iter(range(10**9))

    def with_campaign(text: str) -> object:
        n = next(counter)
        found = assess_links(text, lists)
        return add_campaign(
            found, state, comment_id=f"c{n}", author=f"a{n % 50}", thread_id="t", now=n * 0.01, rules=rules
        )

    print(f"link core, one process, {args.seconds:g} s per line")
    measure("assess_links, no links", plain, lambda t: assess_links(t, lists), args.seconds)
    measure("assess_links, 1-2 links each", linked, lambda t: assess_links(t, lists), args.seconds)
    measure("assess_links + campaign, 1-2 links", linked, with_campaign, args.seconds)


if __name__ == "__main__":
    main()
