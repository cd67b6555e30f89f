"""A labelled comment corpus (spam / ham) for training and quality tests, seeded and deterministic.

Ham: ordinary discussion on many topics, with the things that make real ham hard (links to
reference sites, money talk, capitals and exclamation marks, numbers, usernames with digits).
Spam: promotion with and without links, channel self-promotion, SEO link drops, scams with contact
details, and bland text under keyword-stuffed author names, over several product niches.
Topics and niches are split in two so that a model can be tested on subjects it never saw.
"""

from __future__ import annotations

import csv
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

# topic -> (subjects, vocabulary for free sentences)
TOPICS: dict[str, tuple[list[str], list[str]]] = {
    "transit": (
        [
            "the new tram line",
            "the bus timetable",
            "the night trains",
            "the bike lanes",
            "the station rebuild",
        ],
        ["commute", "platform", "delays", "drivers", "tickets", "the ring road", "rush hour"],
    ),
    "cooking": (
        [
            "this bread recipe",
            "the slow cooker stew",
            "the lemon tart",
            "the curry paste",
            "the sourdough starter",
        ],
        ["oven", "flour", "seasoning", "the dough", "simmer", "garlic", "the crust"],
    ),
    "football": (
        ["the cup final", "the new coach", "the transfer window", "the penalty call", "the youth academy"],
        ["midfield", "the keeper", "the referee", "extra time", "the away fans", "the back four"],
    ),
    "music": (
        ["this song", "the new album", "the live version", "the bridge in this track", "the music video"],
        ["the chorus", "the drummer", "her voice", "the lyrics", "the guitar solo", "the concert"],
    ),
    "tech": (
        [
            "the new phone",
            "the battery update",
            "the laptop review",
            "the open source release",
            "the chip shortage",
        ],
        ["the screen", "firmware", "benchmarks", "the keyboard", "the camera", "the price tag"],
    ),
    "gardening": (
        [
            "the tomato blight",
            "the raised beds",
            "the compost tips",
            "the spring planting",
            "the rose pruning",
        ],
        ["soil", "seedlings", "the greenhouse", "mulch", "aphids", "watering"],
    ),
    "politics": (
        [
            "the council budget",
            "the election debate",
            "the new housing law",
            "the tax proposal",
            "the minister's speech",
        ],
        ["voters", "the opposition", "the polls", "parliament", "the manifesto", "turnout"],
    ),
    "science": (
        [
            "the rover landing",
            "the vaccine trial",
            "the telescope images",
            "the fusion test",
            "the reef survey",
        ],
        ["the data", "peer review", "the sample size", "the researchers", "the paper", "the lab"],
    ),
    "travel": (
        [
            "the coastal walk",
            "the hostel guide",
            "the train across the alps",
            "the visa rules",
            "the old town tour",
        ],
        ["the locals", "the views", "our guide", "the ferry", "the museum", "the weather"],
    ),
    "finance": (
        [
            "the interest rate rise",
            "the pension reform",
            "the mortgage rules",
            "the index fund piece",
            "the inflation figures",
        ],
        ["savings", "the bank", "my budget", "rent", "the markets", "fees"],
    ),
    "gaming": (
        ["the new patch", "the boss fight", "the speedrun", "the open world map", "the sequel trailer"],
        ["the controls", "the frame rate", "the story", "co-op", "the soundtrack", "the level design"],
    ),
    "health": (
        ["the sleep study", "the running plan", "the new clinic", "the flu season", "the diet research"],
        ["my doctor", "the nurses", "exercise", "the waiting list", "stretching", "the symptoms"],
    ),
}
TRAIN_TOPICS = ("transit", "cooking", "football", "music", "tech", "gardening")
HELDOUT_TOPICS = ("politics", "science", "travel", "finance", "gaming", "health")

HAM_TEMPLATES = [
    "I think {subj} is long overdue, but the timing feels rushed.",
    "Honestly {subj} is better than I expected. {Vocab} was the best part.",
    "Does anyone know when {subj} actually starts?",
    "Not convinced by {subj}. What about {vocab}?",
    "We tried something like {subj} years ago and it worked fine.",
    "My sister loved {subj}, I'm still not sure about {vocab}.",
    "{Subj} again? I've read three articles about it this week.",
    "Great piece. The bit about {vocab} answered my question.",
    "Anyone else think {vocab} gets too little attention in {subj}?",
    "I disagree with the author here, {vocab} matters more than {vocab2}.",
    "lol {subj} is all anyone talks about at work",
    "Thanks, this cleared up {subj} for me. Sharing with my dad.",
    "Been waiting for {subj} for ages!! Finally",
    "{Vocab} and {vocab2} in the same article, now that's a combination.",
    "The comments here are better than the article, but {subj} is interesting.",
    "Can't believe how much {vocab} has changed since last year.",
    "Source for the numbers on {vocab}? I'd like to read more.",
    "Correction: {subj} was announced in {year}, not last year.",
    "I have {n} years of experience with {vocab} and this is accurate.",
    "This is the {n}th time I've watched it and {vocab} still gets me",
    "who else is here in {year}?",
    "My kids asked me about {subj} and I had no idea what to say.",
    "Respect to everyone working on {subj}. Hard job.",
    "So {vocab} is the problem? I always suspected that.",
    "WOW. {Subj} is amazing",
    "Nobody mentions the cost of {vocab}. It adds up fast.",
    "I subscribed to the newsletter because of pieces like this one about {subj}.",
    "Check out the second chart, {vocab} dropped a lot.",
    "Here is the report they mention: {ref}",
    "Wikipedia has a decent summary of {vocab}: {ref}",
    "Paid {money} for it last month, worth it in my opinion.",
    "This cost the city {money}? For {subj}?",
    "{Vocab}!!! finally someone said it",
    "I'm {age} and {subj} still confuses me",
    "",
]
HAM_TAILS = ["", "", "", " Just my two cents.", " Curious what others think.", " :)", " Anyway.", " Cheers!"]
REF_LINKS = [
    "https://en.wikipedia.org/wiki/Public_transport",
    "https://www.bbc.co.uk/news/science",
    "https://github.com/python/cpython",
    "https://www.gov.uk/guidance",
    "https://www.nature.com/articles",
    "https://www.who.int/news",
]
FIRST = [
    "maria", "tom", "jenny", "ahmed", "lucia", "pete", "nina", "dave", "oliver", "kate", "sam", "hiro",
    "joan", "frank", "zoe", "raj", "ingrid", "marco", "aisha", "li", "sven", "olga", "carlos", "emma",
]  # fmt: skip
LAST = ["k", "h", "smith", "fernandez", "m", "w", "tanaka", "berg", "okafor", "rossi", "nguyen", "", "", ""]
HAM_NAMES = [
    "Maria K.", "tom_h", "Jenny", "grumpy_cyclist", "Ahmed", "Lucia Fernandez", "bookworm77", "Pete",
    "Nina S", "dave1984", "Oliver", "kate.m", "Sam W", "runner_girl", "Hiro", "Joan", "Frank Miller",
    "user20240311", "anon", "Zoe",
]  # fmt: skip

# niche -> (products, benefits)
NICHES: dict[str, tuple[list[str], list[str]]] = {
    "security": (
        ["home security systems", "wireless cameras", "smart door locks"],
        ["24/7 monitoring", "free installation"],
    ),
    "weightloss": (
        ["diet pills", "a keto plan", "fat burner capsules"],
        ["lose 10kg in a month", "no exercise needed"],
    ),
    "loans": (
        ["payday loans", "instant cash loans", "bad credit loans"],
        ["approval in 5 minutes", "no credit check"],
    ),
    "watches": (
        ["replica watches", "luxury watches", "designer bags"],
        ["80% off", "free worldwide shipping"],
    ),
    "essays": (
        ["essay writing help", "custom essays", "thesis writing"],
        ["plagiarism free", "delivered in 24 hours"],
    ),
    "crypto": (
        ["bitcoin trading", "a crypto signals group", "forex robots"],
        ["guaranteed profit every week", "double your money"],
    ),
    "followers": (
        ["instagram followers", "youtube subscribers", "tiktok likes"],
        ["real and active", "instant delivery"],
    ),
    "pharmacy": (
        ["cheap medicine online", "generic pills", "an online pharmacy"],
        ["no prescription", "discreet packaging"],
    ),
}
TRAIN_NICHES = ("security", "weightloss", "loans", "watches")
HELDOUT_NICHES = ("essays", "crypto", "followers", "pharmacy")
SPAM_HOSTS = [
    "{w}-{w2}.com",
    "{w}{w2}.net",
    "{w}-{w2}-reviews.blogspot.com",
    "{w}{w2}.info",
    "get{w}.shop",
    "{w}.wordpress.com",
]
SHORTENERS = ["bit.ly", "tinyurl.com", "cutt.ly", "goo.gl", "ow.ly"]

SPAM_KINDS = {
    "promo_link": [
        "Get {product} at the best price here: {url}",
        "Looking for {product}? {Benefit}! Visit {url}",
        "{Benefit} with {product}. Order now {url}",
        "Best {product} online, {benefit}. Click here {url}",
        "I found {product} with {benefit} at {url} you should try it",
    ],
    "promo_nolink": [
        "Looking for {product}? We offer {benefit}. Call us at {phone}",
        "{Benefit}!! {Product} for everyone, contact me on whatsapp {phone}",
        "Need {product}? Search {brand} on google, {benefit}",
        "Buy {product} today, {benefit}, limited offer. Text me {phone}",
    ],
    "self_promo": [
        "Check out my channel, I post {content} every week! Subscribe please",
        "Hey guys please subscribe to my channel, I make {content} :)",
        "If you like this you'll love my new video about {content}, check it out on my channel",
        "sub to me and I will sub back!! {content} every day",
        "Please like and share my new song, it's about {content}. Thank you!",
        "Hi everyone, I'm a small youtuber making {content}. Please support my channel {url}",
    ],
    "seo": [
        "Nice blog, very informative post. I also write about {product}, read more at {url}",
        "Thanks for sharing this article. Find the best {product} reviews at {url}",
        "I have just visited your blog and followed you. Great content! Visit my site for {product}: {url}",
        "Great post about {subj}. Keep it up! For {product} check {url}",
        "Very helpful information, thank you. More info at {url} about {product}",
    ],
    "scam": [
        "I made {money} last month working from home. Message me on whatsapp {phone} to learn how",
        "Congratulations! You have won a {prize}. Claim it now at {url}",
        "My account manager helped me earn {money} with {product}. Contact her on telegram @{handle}",
        "Earn {money} a week from home, no experience needed. DM me for details",
        "Free {prize} for the first 100 people, click the link in my profile",
    ],
    "stuffed_name": [
        "Thanks for the info, very helpful.",
        "Good article, I agree with most of it.",
        "Interesting, thanks for sharing.",
        "Nice read. {Benefit}.",
    ],
}
CONTENT = [
    "gaming videos",
    "makeup tutorials",
    "beats",
    "cover songs",
    "prank videos",
    "cooking vlogs",
    "rap music",
]
PRIZES = ["gift card", "new iPhone", "cash prize", "free vacation"]


@dataclass(slots=True, frozen=True)
class Labelled:
    """One labelled comment and where it came from."""

    id: str
    text: str
    label: str  # spam | ham
    kind: str  # ham, or the spam kind
    topic: str  # the ham topic or the spam niche
    author: str
    thread_id: str
    posted_at: datetime
    thread_published_at: datetime

    def to_event(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "thread_id": self.thread_id,
            "text": self.text,
            "posted_at": self.posted_at.isoformat(),
            "thread_published_at": self.thread_published_at.isoformat(),
            "author": {"id": f"a-{abs(hash_name(self.author))}", "name": self.author},
            "site": "news.example",
        }

    def to_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "author": self.author,
            "date": self.posted_at.isoformat(),
            "content": self.text,
            "class": 1 if self.label == "spam" else 0,
        }


def hash_name(name: str) -> int:
    return zlib.crc32(name.encode())


def _person(rng: random.Random) -> str:
    """A person's display name: mostly unique, sometimes with digits, like real accounts."""
    r = rng.random()
    first, last = rng.choice(FIRST), rng.choice(LAST)
    if r < 0.3:
        return f"{first.title()} {last.title()}".strip()
    if r < 0.55:
        return f"{first}_{last or 'x'}{rng.randint(1, 99)}"
    if r < 0.75:
        return f"{first}{rng.randint(1950, 2010)}"
    if r < 0.8:
        return rng.choice(HAM_NAMES)
    return f"{first}.{last or rng.choice(LAST[:-3])}{rng.randint(1, 9999)}"


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _noise(rng: random.Random, text: str) -> str:
    """The ways real people and spammers mangle text: case, punctuation, emoji, typos."""
    r = rng.random()
    if r < 0.06:
        text = text.upper()
    elif r < 0.14:
        text = text.lower()
    if rng.random() < 0.1:
        text = text.rstrip(".!") + rng.choice(["!!!", "!!", "...", " 😂", " ❤️", "??"])
    if rng.random() < 0.05 and len(text) > 20:
        i = rng.randrange(1, len(text) - 1)
        text = text[:i] + text[i + 1 :]
    return text


def _ham(rng: random.Random, topic: str) -> str:
    subjects, vocab = TOPICS[topic]
    template = rng.choice(HAM_TEMPLATES[:-1]) if rng.random() > 0.02 else ""
    v1, v2 = rng.sample(vocab, 2)
    subj = rng.choice(subjects)
    text = template.format(
        subj=subj, Subj=_cap(subj), vocab=v1, Vocab=_cap(v1), vocab2=v2, year=rng.randint(2012, 2025),
        n=rng.randint(2, 30), ref=rng.choice(REF_LINKS), money=f"${rng.randint(2, 900)}",
        age=rng.randint(16, 80),
    )  # fmt: skip
    if text and rng.random() < 0.4:
        extra = rng.choice(HAM_TEMPLATES[:-1])
        v1, v2 = rng.sample(vocab, 2)
        text += " " + extra.format(
            subj=subj, Subj=_cap(subj), vocab=v1, Vocab=_cap(v1), vocab2=v2, year=rng.randint(2012, 2025),
            n=rng.randint(2, 30), ref=rng.choice(REF_LINKS), money=f"${rng.randint(2, 900)}",
            age=rng.randint(16, 80),
        )  # fmt: skip
    return _noise(rng, text + rng.choice(HAM_TAILS)) if text else text


def _host(rng: random.Random, product: str) -> str:
    words = [w for w in product.replace("-", " ").split() if w.isalpha() and len(w) > 2]
    w, w2 = rng.sample(words, 2) if len(words) >= 2 else [words[0], rng.choice(["pro", "best", "shop"])]
    return rng.choice(SPAM_HOSTS).format(w=w, w2=w2)


def _spam(rng: random.Random, kind: str, niche: str, topic_subj: str) -> tuple[str, str]:
    products, benefits = NICHES[niche]
    product, benefit = rng.choice(products), rng.choice(benefits)
    host = _host(rng, product)
    url_style = rng.random()
    if url_style < 0.2:
        url = f"https://{rng.choice(SHORTENERS)}/{rng.randbytes(3).hex()}"
    elif url_style < 0.5:
        url = f"http://www.{host}/"
    elif url_style < 0.8:
        url = f"https://{host}/{product.split()[-1]}"
    else:
        url = host
    phone = f"+1 {rng.randint(200, 999)} {rng.randint(200, 999)} {rng.randint(1000, 9999)}"
    text = rng.choice(SPAM_KINDS[kind]).format(
        product=product, Product=_cap(product), benefit=benefit, Benefit=_cap(benefit), url=url, phone=phone,
        brand=host.split(".")[0], content=rng.choice(CONTENT), subj=topic_subj,
        money=f"${rng.randint(3, 40) * 250:,}", prize=rng.choice(PRIZES), handle=f"{host.split('.')[0][:10]}_help",
    )  # fmt: skip
    if kind == "stuffed_name":
        name = rng.choice(["Best {p} Online", "Cheap {p} Deals", "{p} Shop Discount", "Buy {p} online"])
        author = name.format(p=_cap(product.split()[-1]))
    elif rng.random() < 0.3:
        author = rng.choice(["promo", "deals", "xk", "user", "mark"]) + str(rng.randint(10000, 99999999))
    else:
        author = _person(rng)
    return _noise(rng, text), author


def labelled_corpus(
    n: int,
    *,
    seed: int = 0,
    topics: Sequence[str] = TRAIN_TOPICS,
    niches: Sequence[str] = TRAIN_NICHES,
    spam_ratio: float = 0.35,
    prefix: str = "c",
) -> list[Labelled]:
    """`n` labelled comments about `topics` (ham) and `niches` (spam), deterministic for a seed."""
    rng = random.Random(seed)
    start = datetime(2025, 3, 1, tzinfo=UTC)
    threads = [
        (f"{prefix}-t{i}", rng.choice(list(topics)), start + timedelta(days=i))
        for i in range(max(4, n // 25))
    ]
    out: list[Labelled] = []
    for i in range(n):
        thread_id, topic, published = rng.choice(threads)
        if rng.random() < spam_ratio:
            kind = rng.choice(list(SPAM_KINDS))
            niche = rng.choice(list(niches))
            text, author = _spam(rng, kind, niche, rng.choice(TOPICS[topic][0]))
            # Spam lands late on old threads more often than discussion does.
            delay = (
                timedelta(days=rng.expovariate(1 / 40))
                if rng.random() < 0.6
                else timedelta(hours=rng.random() * 48)
            )
            label, subject = "spam", niche
        else:
            kind, subject, label = "ham", topic, "ham"
            text, author = _ham(rng, topic), _person(rng)
            delay = (
                timedelta(hours=rng.expovariate(1 / 12))
                if rng.random() < 0.9
                else timedelta(days=rng.random() * 90)
            )
        out.append(
            Labelled(
                f"{prefix}-{i}", text, label, kind, subject, author, thread_id, published + delay, published
            )
        )
    return out


def write_csv(rows: Sequence[Labelled], path: Path) -> None:
    """CSV in the layout of public comment-spam collections (CONTENT / CLASS columns)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["COMMENT_ID", "AUTHOR", "DATE", "CONTENT", "CLASS"])
        w.writeheader()
        for r in rows:
            row = r.to_row()
            w.writerow(
                {
                    "COMMENT_ID": row["id"],
                    "AUTHOR": row["author"],
                    "DATE": row["date"],
                    "CONTENT": row["content"],
                    "CLASS": row["class"],
                }
            )


def write_jsonl(rows: Sequence[Labelled], path: Path) -> None:
    """JSONL of comment events with a `label` field (spam | ham)."""
    with path.open("wb") as fh:
        for r in rows:
            fh.write(orjson.dumps({**r.to_event(), "label": r.label}) + b"\n")
