"""A seeded, deterministic comment corpus with near-duplicates, for the duplicate stage's quality
test and benchmark.

Families: one original comment and variants made by the edits spammers and double-posters use
(paraphrase, inserted and deleted words, swapped words, added links, case, spacing, punctuation,
repeated letters, zero-width characters, look-alike letters, HTML, a cut or an added sentence),
posted by the same author, in the same thread, or across threads (a campaign). Between them:
unrelated comments on the same topics, so that shared vocabulary is there to cause false matches,
plus empty and junk posts. All text is built here from word lists written for this project.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# topic -> (subjects, nouns, verbs-phrases): everything a sentence on that topic is built from
TOPICS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "transit": (
        ["the new tram line", "the bus timetable", "the night trains", "the bike lanes", "the station"],
        ["commute", "platform", "delays", "drivers", "tickets", "ring road", "rush hour", "fares"],
        ["runs late", "costs too much", "finally works", "needs more staff", "got cut again"],
    ),
    "cooking": (
        ["this bread recipe", "the slow cooker stew", "the lemon tart", "the curry paste", "the soup"],
        ["flour", "oven", "butter", "spices", "garlic", "crust", "dough", "onions", "stock"],
        ["tastes great", "took forever", "came out dry", "needs more salt", "is worth the effort"],
    ),
    "football": (
        ["the match last night", "the new coach", "the transfer window", "the derby", "the keeper"],
        ["defence", "midfield", "penalty", "referee", "striker", "season", "league", "goal"],
        ["was a disgrace", "played really well", "needs a rethink", "surprised everyone", "cost us"],
    ),
    "phones": (
        ["the new phone", "this software update", "the battery", "the camera app", "the charger"],
        ["screen", "apps", "storage", "price", "warranty", "settings", "signal", "case"],
        ["drains too fast", "works fine for me", "keeps crashing", "is overpriced", "got better"],
    ),
    "gardening": (
        ["the tomato plants", "this compost tip", "the rose bushes", "the lawn", "the raised beds"],
        ["soil", "seeds", "slugs", "watering", "frost", "weeds", "mulch", "sunlight"],
        ["grew like mad", "died in the heat", "need more water", "look amazing", "took two years"],
    ),
    "housing": (
        ["the rent increase", "the new flats", "the council plan", "the landlord rules", "the estate"],
        ["mortgage", "tenants", "deposit", "repairs", "heating", "neighbours", "planning", "damp"],
        ["is outrageous", "makes no sense", "helps nobody", "is long overdue", "went through"],
    ),
}
OPENERS = [
    "honestly",
    "i think",
    "to be fair",
    "in my view",
    "well",
    "sadly",
    "frankly",
    "look",
    "funny enough",
    "as a local",
    "for what it is worth",
    "let me say",
    "not gonna lie",
    "oddly",
]
CONNECT = ["because", "and", "but", "so", "although", "since", "while", "yet", "whereas", "until"]
ADJECTIVES = [
    "old",
    "cheap",
    "noisy",
    "slow",
    "shiny",
    "broken",
    "decent",
    "huge",
    "tiny",
    "awful",
    "lovely",
    "weird",
    "useless",
    "fancy",
    "local",
    "second",
    "whole",
    "crowded",
    "quiet",
]
ADVERBS = ["always", "never", "barely", "clearly", "mostly", "rarely", "suddenly", "usually", "again"]
PEOPLE = [
    "my mum",
    "our landlord",
    "the mayor",
    "a mate of mine",
    "my boss",
    "the kids",
    "my uncle",
    "half the street",
    "the old couple upstairs",
    "my sister",
    "the reporter",
    "a friend",
]
TIMES = [
    "last week",
    "on tuesday",
    "every morning",
    "since march",
    "two years ago",
    "this winter",
    "all summer",
    "at night",
    "before christmas",
    "after the holidays",
    "yesterday",
    "in 2019",
]
# Everyday words for the free part of a sentence.
GENERAL = """
about after again almost along already also always another anyone around asked away back bad because
been before being best better between big both bought brought called came cannot care changed
cheaper city clear close could couple daily different done down during early easy either else enough
even ever every fact family far feel few find first food friends full gave getting given going gone
good great group half hand happened hard having heard help here high home hope hours house idea
instead just keep kind knew know large later least left less life little long looked lost made make
many maybe mean might minutes money month more morning most much must near need never news next nice
night nothing now number often once only open other over paid part people perhaps place plan point
pretty problem public quite rather real really reason right round same saw school seems seen several
short should show side simple since small someone something soon start still story sure take talk
than that their them then there these thing think those though thought three through time today
together told took town tried true turned under until used very wait want watched water week well
went were what when where which while whole why wife will wish with without woman work worse worth
would wrong year years yes young
""".split()  # noqa: SIM905 (a word list reads better as text)
EXTRA = [
    "my neighbour said the same",
    "we tried it last week",
    "nobody asked us about it",
    "it was the same last year",
    "the comments here agree",
    "i read the whole article twice",
    "my kids noticed it first",
    "it happened on a monday",
]
CLOSERS = ["thanks for writing this", "just my two cents", "great article", "what a mess", "agreed"]
SYNONYMS = {
    "great": "brilliant",
    "really": "truly",
    "too": "way too",
    "think": "believe",
    "well": "nicely",
    "again": "once more",
    "more": "extra",
    "new": "latest",
    "amazing": "fantastic",
    "everyone": "everybody",
    "nobody": "no one",
    "article": "piece",
    "finally": "at last",
    "fine": "ok",
    "same": "identical",
    "honestly": "seriously",
    "sadly": "unfortunately",
}
FILLERS = ["really", "just", "actually", "basically", "totally", "literally", "very", "still"]
DOMAINS = ["deals-now.shop", "bit.ly", "myblog.blogspot.com", "best-offer.xyz", "example.org"]
CYRILLIC = str.maketrans({"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у"})
# Syllables for made-up names of streets, shops, players and products: real comments name things,
# and those names are what makes two unrelated comments on one topic look different.
STORIES = 40  # per topic
CONSONANTS = "bcdfghjklmnprstvwz"
VOWELS = "aeiouy"
KINDS = ["street", "road", "park", "market", "cafe", "fc", "lane", "hall", "bridge", "square", "pro"]
JUNK = ["", " ", "   ", "\n", "!!!", "...", "?", "+1", "ok", "\u200b", "<br>", "&nbsp;"]


@dataclass(slots=True)
class Corpus:
    events: list[dict[str, Any]]
    family: dict[str, str] = field(default_factory=dict)  # comment id -> family id (variants only)
    kind: dict[str, str] = field(default_factory=dict)  # comment id -> original|variant|unrelated|junk


def _sentence(rng: random.Random, topic: str) -> str:
    subjects, nouns, verbs = TOPICS[topic]
    # Each topic comes in many stories (the article a thread is about), named after made-up places.
    story = random.Random(f"{topic}/{rng.randrange(STORIES)}")
    parts = [f"the {_name(story)}" if rng.random() < 0.6 else rng.choice(subjects)]
    if rng.random() < 0.3:
        parts.append(rng.choice(ADVERBS))
    parts.append(rng.choice(verbs))
    free = [*nouns, *ADJECTIVES, *GENERAL, *GENERAL]
    parts += [rng.choice(CONNECT), *rng.sample(free, rng.randint(4, 10))]
    if rng.random() < 0.3:
        parts.append(rng.choice(TIMES))
    if rng.random() < 0.3:
        parts.insert(0, rng.choice(OPENERS))
    if rng.random() < 0.1:
        parts += [rng.choice(CONNECT), rng.choice(PEOPLE), rng.choice(EXTRA)]
    if rng.random() < 0.2:
        parts += ["about", str(rng.randint(2, 90)), rng.choice(("times", "minutes", "quid", "days"))]
    return " ".join(parts)


def _name(rng: random.Random) -> str:
    words = [
        "".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(rng.randint(2, 4)))
        for _ in range(2)
    ]
    return f"{words[0]} {words[1]} {rng.choice(KINDS)}"


def comment_text(rng: random.Random, topic: str) -> str:
    """An ordinary comment: one to four sentences on a topic, naming a place or a thing or two,
    sometimes with a closer."""
    sentences = [_sentence(rng, topic) for _ in range(rng.choice((1, 1, 1, 2, 2, 3)))]
    for _ in range(rng.choice((0, 1, 1, 2))):
        i = rng.randrange(len(sentences))
        sentences[i] = f"{sentences[i]} {rng.choice(('at', 'near', 'by', 'on', 'like'))} {_name(rng)}"
    if rng.random() < 0.3:
        sentences.append(rng.choice(CLOSERS))
    text = ". ".join(s[0].upper() + s[1:] for s in sentences)
    return text + rng.choice((".", "!", "", "?"))


def _words_edit(rng: random.Random, text: str, edit: str) -> str:
    words = text.split(" ")
    i = rng.randrange(len(words))
    if edit == "paraphrase":
        hits = [j for j, w in enumerate(words) if w.lower().strip(".!?") in SYNONYMS]
        if hits:
            j = rng.choice(hits)
            words[j] = SYNONYMS[words[j].lower().strip(".!?")]
        else:
            words.insert(i, rng.choice(FILLERS))
    elif edit == "insert":
        words.insert(i, rng.choice(FILLERS))
    elif edit == "delete" and len(words) > 3:
        del words[i]
    elif edit == "swap" and len(words) > 2:
        j = min(i, len(words) - 2)
        words[j], words[j + 1] = words[j + 1], words[j]
    elif edit == "repeat":
        w = words[i]
        vowels = [j for j, ch in enumerate(w) if ch in "aeiou"]
        if vowels:
            j = rng.choice(vowels)
            words[i] = w[:j] + w[j] * rng.randint(3, 6) + w[j + 1 :]
    elif edit == "zero_width":
        w = words[i]
        if len(w) > 2:
            j = rng.randrange(1, len(w))
            words[i] = w[:j] + rng.choice("\u200b\u200c\u2060\u00ad") + w[j:]
    elif edit == "confusable":
        words[i] = words[i].translate(CYRILLIC)
    elif edit == "html":
        words[i] = rng.choice(("<b>{}</b>", "<i>{}</i>", "{}&nbsp;", "<a>{}</a>")).format(words[i])
    return " ".join(words)


def variant(rng: random.Random, text: str, topic: str, link: str) -> str:
    """A near copy of `text`: one to three edits of the kinds spammers and double-posters make."""
    edits = rng.sample(
        [
            "paraphrase",
            "insert",
            "delete",
            "swap",
            "link",
            "case",
            "spacing",
            "punct",
            "repeat",
            "zero_width",
            "confusable",
            "html",
            "cut",
            "add",
        ],
        rng.choice((1, 1, 2, 2, 3)),
    )
    for edit in edits:
        if edit == "link":
            text = f"{text} {link}/{rng.choice(('p', 'go', 'x', 'ref'))}{rng.randint(1, 999)}"
        elif edit == "case":
            text = rng.choice((str.upper, str.lower, str.title))(text)
        elif edit == "spacing":
            text = text.replace(" ", rng.choice(("  ", " \n ", "\t")), rng.randint(1, 4))
        elif edit == "punct":
            text = text.replace(".", rng.choice(("!!!", "...", " .", ",")), 1) + rng.choice(("!!", "??", ""))
        elif edit == "cut":
            cut = text.rfind(". ")
            text = text[:cut] if cut > len(text) // 2 else text
        elif edit == "add":
            text = f"{text} {_sentence(rng, topic).capitalize()}."
        else:
            text = _words_edit(rng, text, edit)
    return text


def _rfc3339(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def generate(n: int, *, seed: int = 7, family_share: float = 0.35) -> Corpus:
    """`n` comments: about `family_share` of them in families of near copies, the rest unrelated
    comments on the same topics, with a sprinkle of junk. Times rise over about a day."""
    rng = random.Random(seed)
    threads = [f"thread-{i}" for i in range(max(4, n // 60))]
    authors = [f"user{i}" for i in range(max(8, n // 8))]
    start = datetime(2026, 3, 1, tzinfo=UTC)
    out: list[dict[str, Any]] = []
    corpus = Corpus(out)
    # Pending variants: (index of the comment after which it is posted, family, fields)
    pending: list[tuple[int, int, dict[str, Any]]] = []
    families = 0

    def emit(text: str, thread: str, author: str, kind: str, fam: str | None) -> None:
        cid = f"c{len(out):06d}"
        t = start + timedelta(seconds=len(out) * 86400 / max(n, 1))
        out.append(
            {
                "id": cid,
                "thread_id": thread,
                "text": text,
                "posted_at": _rfc3339(t),
                "author": {"id": author, "name": author},
            }
        )
        corpus.kind[cid] = kind
        if fam is not None:
            corpus.family[cid] = fam

    while len(out) < n:
        # the first pending variant (in the order they were made) that is due; stop at it, so
        # that a million comments do not scan the whole pending list each time
        now = len(out)
        due = next((i for i, p in enumerate(pending) if p[0] <= now), -1)
        if due >= 0:
            f = pending.pop(due)[2]
            emit(f["text"], f["thread"], f["author"], "variant", f["family"])
            continue
        r = rng.random()
        topic = rng.choice(list(TOPICS))
        if r < 0.02:
            emit(rng.choice(JUNK), rng.choice(threads), rng.choice(authors), "junk", None)
        elif r < 0.02 + family_share / 4:  # an original; its 1..8 variants follow later
            fam = f"f{families}"
            families += 1
            text = comment_text(rng, topic)
            thread, author = rng.choice(threads), rng.choice(authors)
            link = f"https://{rng.choice(DOMAINS)}"
            emit(text, thread, author, "original", fam)
            scope = rng.choice(("author", "thread", "campaign", "campaign"))
            for _ in range(rng.choice((1, 1, 2, 2, 3, 4, 6, 8))):
                base = text if rng.random() < 0.7 else variant(rng, text, topic, link)
                v_thread = thread if scope != "campaign" else rng.choice(threads)
                v_author = author if scope == "author" else rng.choice(authors)
                fields_ = {
                    "text": variant(rng, base, topic, link),
                    "thread": v_thread,
                    "author": v_author,
                    "family": fam,
                }
                pending.append((len(out) + rng.randint(1, max(2, n // 20)), 0, fields_))
        else:
            emit(comment_text(rng, topic), rng.choice(threads), rng.choice(authors), "unrelated", None)
    return corpus


def iter_texts(corpus: Corpus) -> Iterator[str]:
    for e in corpus.events:
        yield e["text"]
