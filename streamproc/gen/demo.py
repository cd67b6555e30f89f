"""A realistic mixed comment stream for the demo and tests, generated from the project's own
templates: ordinary discussion, link spam posted long after the article, shortened links, exact
and near repeats, empty posts, a flooding author and a few malformed events.

    python -m streamproc.gen.demo 5000 > demo.jsonl   # the demo stream's valid comments, as JSONL
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

TOPICS = {
    "transit": [
        "the new tram line",
        "bus fares",
        "the night trains",
        "the bike lanes",
        "the station rebuild",
    ],
    "budget": [
        "the council budget",
        "school funding",
        "the library cuts",
        "property taxes",
        "the pension fund",
    ],
    "weather": [
        "the storm warning",
        "the flood barriers",
        "the heatwave",
        "the drought rules",
        "snow clearing",
    ],
    "sport": [
        "the cup final",
        "the new coach",
        "the stadium plan",
        "the transfer window",
        "the youth league",
    ],
    "science": [
        "the rover landing",
        "the vaccine trial",
        "the telescope images",
        "the fusion test",
        "the reef survey",
    ],
}
# Extra sentences people add around their point; drawn freely so that two unrelated comments
# rarely share more than a phrase (real readers do not write near-copies of each other).
ASIDES = [
    "Funny how nobody asked the people who actually live here.",
    "The photos in the article say more than the quotes.",
    "My sister works nearby and says the mood is mixed.",
    "Someone should check what was promised last election.",
    "Parking was already impossible before any of this.",
    "I emailed my councillor twice and never heard back.",
    "We moved here for the quiet, so I worry.",
    "The old plan was scrapped for good reasons, remember.",
    "Prices at the corner shop went up again this week.",
    "Honestly the comments here are better than the article.",
    "It took the city four years to fix our pavement.",
    "Young families will feel this first.",
    "My grandfather used to talk about the same debate.",
    "Whatever happens, please keep the trees.",
    "The reporter clearly spoke to both sides, credit where due.",
    "Anyone who cycles knows the real problem is the junction.",
    "I'd like to see the actual contract, not a summary.",
    "Retired folks on fixed incomes get forgotten every time.",
    "This was on the radio this morning too.",
    "The weekend market would be a good place to ask people.",
    "Numbers like these always look better on paper.",
    "I'm cautiously optimistic, which is rare for me.",
    "Our building manager posted a notice about it yesterday.",
    "Typical: announce in winter, build in summer traffic.",
]
OPINIONS = [
    "I think {subj} is long overdue, but the timing feels rushed.",
    "Honestly {subj} will cost more than anyone admits.",
    "My neighbours and I have been talking about {subj} all week.",
    "Does anyone know when {subj} actually starts?",
    "{Subj} was covered badly in the first report; this one is much better.",
    "I grew up here and {subj} is the biggest change in twenty years.",
    "Good reporting. The part about {subj} answered my question.",
    "Not convinced by {subj}. Where are the numbers?",
    "We tried something like {subj} years ago and it worked fine.",
    "Whoever planned {subj} should read the comments here.",
]
DETAILS = [
    "I have lived on {street} for {n} years.",
    "My commute went from {n} to {m} minutes last month.",
    "At the meeting on {day} maybe {n} people showed up.",
    "Our street association sent {n} letters about it.",
    "My kids' school on {street} already felt it.",
    "The last time this came up was {n} years ago.",
    "",
    "",
]
STREETS = ["Elm Road", "Harbour Street", "the old market", "Mill Lane", "Station Square", "Church Hill"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
TAILS = [
    "",
    " Just my two cents.",
    " Thanks for writing this.",
    " Curious what others think.",
    " The mayor should answer that.",
    " Let's see what happens in spring.",
]
SPAM_DOMAINS = [
    "cheap-watch-outlet.com",
    "best-loans-fast.net",
    "seo-rank-boost.biz",
    "pharma-deals.ru",
    "win-prize-now.info",
]
SHORT = ["bit.ly", "tinyurl.com", "goo.gl", "ow.ly", "cutt.ly"]
SPAM_TEMPLATES = [
    "Nice article, very informative. Read more at https://{dom}/{slug}",
    "Check out my channel for daily tips!!! https://{dom}/c/{slug}",
    "Earn $500 a day working from home, visit my site {dom} now",
    "Great post! I found cheap deals here: http://{dom}/{slug} best price guaranteed",
    "CLICK HERE TO WIN A FREE PHONE https://{dom}/{slug}",
]
SPAM_NAMES = ["cheap watches online", "best loans 2026", "seo expert services", "buy followers fast"]
MALFORMED: list[bytes] = [
    b"{not json at all",
    b'{"id": "m-1", "text": "no thread or time"}',
    b'["a", "list", "not", "an", "object"]',
    b'{"id": "m-2", "thread_id": "t", "text": 42, "posted_at": "2026-01-01T00:00:00Z"}',
    b'{"id": "m-3", "thread_id": "t", "text": "x", "posted_at": "yesterday"}',
    b"\xff\xfe invalid utf-8",
]


@dataclass(slots=True)
class DemoStream:
    """Generated events and what was put in them (for tests and the demo's summary)."""

    events: list[dict[str, Any]]
    malformed: list[bytes]
    kinds: dict[
        str, str
    ]  # comment id -> kind: ordinary, link_spam, short_link, repeat, near_repeat, empty, flood


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def generate(
    n: int = 1000, *, seed: int = 7, malformed: int = 6, start: datetime | None = None
) -> DemoStream:
    """Generate `n` valid comment events (plus `malformed` invalid ones) in posting order."""
    rng = random.Random(seed)
    start = start or datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    threads = []
    for i, (topic, subjects) in enumerate(list(TOPICS.items()) * 4):
        published = start - timedelta(days=rng.choice([0, 0, 1, 2, 90, 200]))
        threads.append((f"t-{topic}-{i}", subjects, published))
    authors = [f"reader{i:03d}" for i in range(150)]
    events: list[dict[str, Any]] = []
    kinds: dict[str, str] = {}
    clock = start

    def emit(kind: str, thread: tuple[str, list[str], datetime], author: str, text: str) -> None:
        nonlocal clock
        clock += timedelta(seconds=rng.randint(1, 20))
        cid = f"c-{len(events):06d}"
        events.append(
            {
                "id": cid,
                "thread_id": thread[0],
                "thread_url": f"https://news.example.org/{thread[0]}",
                "thread_published_at": _iso(thread[2]),
                "text": text,
                "posted_at": _iso(clock),
                "author": {"id": f"u-{author}", "name": author},
                "site": "news.example.org",
                "lang": "en",
            }
        )
        kinds[cid] = kind

    while len(events) < n:
        roll = rng.random()
        thread = rng.choice(threads)
        if roll < 0.62 or not events:
            subj = rng.choice(thread[1])
            detail = rng.choice(DETAILS).format(
                street=rng.choice(STREETS), n=rng.randint(2, 40), m=rng.randint(5, 90), day=rng.choice(DAYS)
            )
            opinion = rng.choice(OPINIONS).format(subj=subj, Subj=subj[0].upper() + subj[1:])
            parts = [detail, opinion] if rng.random() < 0.5 else [opinion, detail]
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(ASIDES))
            text = " ".join(p for p in parts if p) + rng.choice(TAILS)
            emit("ordinary", thread, rng.choice(authors), text)
        elif roll < 0.72:
            dom = rng.choice(SPAM_DOMAINS)
            text = rng.choice(SPAM_TEMPLATES).format(dom=dom, slug=f"p{rng.randint(1, 999)}")
            emit("link_spam", thread, rng.choice(SPAM_NAMES), text)
        elif roll < 0.78:
            text = f"Everything you need to know is here {rng.choice(SHORT)}/{rng.randint(10000, 99999):x}"
            emit("short_link", thread, f"promo{rng.randint(1, 30)}", text)
        elif roll < 0.84:
            previous = rng.choice([e for e in events if kinds[e["id"]] == "ordinary"] or events)
            emit(
                "repeat",
                next(t for t in threads if t[0] == previous["thread_id"]),
                previous["author"]["name"],
                previous["text"],
            )
        elif roll < 0.90:
            previous = rng.choice(
                [e for e in events if kinds[e["id"]] in ("link_spam", "ordinary")] or events
            )
            text = (
                previous["text"].replace(".", "!", 1).upper()
                if rng.random() < 0.5
                else "  " + previous["text"] + " "
            )
            emit("near_repeat", thread, rng.choice(SPAM_NAMES + authors), text)
        elif roll < 0.985:  # the rest: one author flooding threads, four posts at a time
            emit("empty", thread, rng.choice(authors), rng.choice(["", " ", "\n", "\u200b"]))
        else:
            flooder = "loudvoice"
            for _ in range(min(4, n - len(events))):
                emit(
                    "flood",
                    thread,
                    flooder,
                    rng.choice(["Wrong!", "This is a disgrace.", "Read the facts people."]),
                )
    return DemoStream(events[:n], MALFORMED[:malformed], kinds)


def interleave(stream: DemoStream, seed: int = 3) -> Iterator[bytes | dict[str, Any]]:
    """Events in order with the malformed ones slipped in at random places."""
    rng = random.Random(seed)
    slots: dict[int, list[bytes]] = {}
    for m in stream.malformed:
        slots.setdefault(rng.randrange(len(stream.events)), []).append(m)
    for i, event in enumerate(stream.events):
        yield from slots.get(i, ())
        yield event


if __name__ == "__main__":  # the benches and docs/performance.md run `check` on this
    import orjson

    out = sys.stdout.buffer
    for e in generate(int(sys.argv[1]) if len(sys.argv) > 1 else 1000, malformed=0).events:
        out.write(orjson.dumps(e) + b"\n")
