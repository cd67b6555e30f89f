"""A seeded corpus that mimics real short comments and messages, for the duplicates stage's quality
test and benchmark: what video and article comment sections and text messages look like, rather
than the long edited paragraphs of `near_dups`.

What is in it, all built here from word lists written for this project:

- reactions and chat: a few words to a sentence or two, informal ("u", "gonna", "lol"),
  emphasis by repeated letters ("sooo", "noooo"), emoji, shouting, missing punctuation;
- people repeating themselves with small edits: a typo fixed or made, a word added or dropped, an
  emoji or "!!!" added, letters stretched, a number changed, the same text in capitals;
- stock phrases that many people post independently ("first", "who is here in 2026"), so that
  short texts by different people are often close: the hard case for precision;
- link-only comments to different pages of one site (videos, profiles, channels), and the same
  page again with different tracking parameters, or none;
- promotion: "check out my channel" with each author's own link, posted again and again.

`reader_text` is the ground truth's normalisation: what two comments look like to a reader, with
whole links (tracking parameters removed) and letters as typed, so that the stage's own folding
(letter runs, look-alikes, link pages) is measured, not assumed.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from streamproc.detect.text import TRACKING_PARAMS, normalise

REACTIONS = [
    "lol", "so true", "this is gold", "love this", "great video", "first", "same here",
    "this made my day", "i cant stop laughing", "best song ever", "who is here in 2026",
    "underrated", "facts", "no way", "omg", "this is so funny", "i needed this today",
    "came here after the news", "thank you for sharing", "well said", "wow just wow",
    "this deserves more views", "i agree with you", "not me crying at this", "legend",
    "the ending tho", "why is this so relatable", "my favourite part is the end",
    "who else is watching at 3am", "this is the best channel", "amazing work as always",
]  # fmt: skip
OPENERS = ["honestly", "ok but", "wait", "lowkey", "ngl", "yo", "bro", "guys", "omg", "tbh", "", "", ""]
SUBJECTS = [
    "the drummer", "your voice", "this recipe", "the second goal", "that cat", "the new update",
    "this song", "the intro", "my brother", "the teacher", "this channel", "the bus driver",
    "the last episode", "his face", "the editing", "this trick", "the referee", "my dog",
]  # fmt: skip
VERBS = [
    "is amazing", "made me laugh", "is so underrated", "saved my day", "is everything",
    "needs more views", "is back", "got me", "is a mood", "was unreal", "deserves better",
    "broke me", "is on another level", "never gets old", "is hilarious", "hits different",
]  # fmt: skip
TAILS = [
    "", "", "", "lol", "haha", "fr", "for real", "again", "every time", "ngl", "tbh",
    "this year", "right now", "as always", "no cap", "i swear", "today",
]  # fmt: skip
MESSAGES = [
    "hey are you free tonight", "call me when you get this", "running late be there in {n}",
    "did you see the game last night", "ok see you at {n}", "can you pick up milk on the way",
    "happy birthday have a great day", "where are you", "i left my keys at yours",
    "are we still on for {day}", "good luck with the exam tomorrow", "thanks for dinner",
    "sorry i missed your call", "let me know when you are home", "the train is delayed again",
    "meeting moved to {day} at {n}", "dont forget mum's birthday on {day}", "got the tickets",
]  # fmt: skip
# Everyday words for the free part of a comment: what makes two people's comments differ.
WORDS = """
after again almost always anyone anyway around awesome bad bed better big bit both boring brother
busy car cause cheap chill class cold cool could crazy cute dad dance day dead done dude early easy
else enough even ever every exactly fair family fast fav feel fine finally food friend fun funny game
girl gonna good guess guy half happy hard hate head hear heart help high hold home honest hope hot
house huge idea insane job keep kid kinda know last late laugh least leave less life like listen
little live long look lost loud love mad main make man mate maybe mean miss mom money month morning
music need never new nice night nobody nothing now old once only part party people perfect phone
place play point pretty proud quick quiet random rather real reason right road sad school season
seen shame short show sick since sleep slow small smile song sorry start still stop story sure sweet
talk team tell thing think though tired today tomorrow tonight true trust turn voice wait want watch
weekend weird whole wild win wish work world worst year yes yet young
""".split()  # noqa: SIM905 (a word list reads better as text)
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
SLANG = {"you": "u", "are": "r", "your": "ur", "going to": "gonna", "want to": "wanna",
         "because": "cuz", "please": "pls", "thanks": "thx", "people": "ppl", "really": "rly"}  # fmt: skip
EMOJI = ["😂", "❤️", "🔥", "👍", "😭", "🙏", "😍", "💯", "🤣", "👏"]
SITES = {  # site -> (page path forms): {id} an opaque id, {name} a handle
    "tube.example": ["/watch?v={id}", "/shorts/{id}", "/@{name}", "/channel/UC{id}{id}"],
    "social.example.net": ["/{name}", "/{name}/status/{num}", "/p/{id}"],
    "blog.example.org": ["/{num}/{name}-{name}", "/posts/{name}"],
    "shop.example.com": ["/item/{num}", "/deal/{name}"],
}
TRACKING = ["utm_source=share", "utm_medium=social&utm_campaign=spring", "fbclid=IwAR{id}", "si={id}"]
PROMO = [
    "check out my channel {link}", "subscribe to me pls {link}", "new video is up {link}",
    "follow me for more {link}", "i make videos like this too {link}", "my latest cover {link}",
]  # fmt: skip
SYLLABLES = ["ka", "ro", "mi", "ze", "lu", "ta", "vo", "ni", "sa", "pe", "do", "ri", "ku", "fa"]


@dataclass(slots=True)
class Corpus:
    events: list[dict[str, Any]]
    family: dict[str, str] = field(default_factory=dict)  # comment id -> family (repeats only)
    kind: dict[str, str] = field(default_factory=dict)  # comment id -> what generated it


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) + rng.choice(["", "", "x", "99"])


def _token(rng: random.Random, n: int = 11) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits + "_-") for _ in range(n))


def link(rng: random.Random, site: str | None = None) -> str:
    """A link to one page of one of the sites."""
    site = site or rng.choice(list(SITES))
    path = rng.choice(SITES[site]).format(id=_token(rng), name=_name(rng), num=rng.randint(10, 99999))
    return f"{rng.choice(('https://', 'https://www.', 'http://', ''))}{site}{path}"


def _track(rng: random.Random, url: str) -> str:
    """The same page with tracking parameters added (or swapped)."""
    base = re.sub(r"[?&](?:utm_\w+|fbclid|si)=[^&\s]*", "", url)
    extra = rng.choice(TRACKING).format(id=_token(rng, 8))
    return f"{base}{'&' if '?' in base else '?'}{extra}"


def _chat(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.02:  # stock phrases: many people post them on their own
        text = rng.choice(REACTIONS)
    elif r < 0.6:
        free = " ".join(rng.sample(WORDS, rng.randint(1, 5)))
        parts = (rng.choice(OPENERS), rng.choice(SUBJECTS), rng.choice(VERBS), free, rng.choice(TAILS))
        text = " ".join(w for w in parts if w)
    elif r < 0.75:
        text = rng.choice(MESSAGES).format(n=rng.randint(1, 12), day=rng.choice(DAYS))
    else:
        text = " ".join((rng.choice(REACTIONS), *rng.sample(WORDS, rng.randint(2, 6))))
    if rng.random() < 0.2:
        text = f"{text} {rng.choice(EMOJI)}"
    return _style(rng, text)


def _style(rng: random.Random, text: str) -> str:
    """How people type: capitals, stretched letters, slang, trailing punctuation."""
    if rng.random() < 0.15:
        text = _stretch(rng, text)
    if rng.random() < 0.2:
        for long, short in SLANG.items():
            text = re.sub(rf"\b{long}\b", short, text)
    r = rng.random()
    if r < 0.3:
        text = text[:1].upper() + text[1:]
    elif r < 0.38:
        text = text.upper()
    return text + rng.choice(("", "", "", "!", "!!", ".", "?", " !!!", "..."))


def _stretch(rng: random.Random, text: str) -> str:
    spots = [i for i, ch in enumerate(text) if ch in "aeiouy"]
    if not spots:
        return text
    i = rng.choice(spots)
    return text[:i] + text[i] * rng.randint(2, 6) + text[i + 1 :]


def _typo(rng: random.Random, text: str) -> str:
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    if len(letters) < 4:
        return text + rng.choice("!?")
    i = rng.choice(letters[1:-1])
    op = rng.randrange(3)
    if op == 0:
        return text[:i] + text[i + 1 :]
    if op == 1:
        return text[:i] + rng.choice(string.ascii_lowercase) + text[i:]
    return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]


def edit(rng: random.Random, text: str) -> str:
    """A repeat with one small edit of the kinds people make when they post again."""
    words = text.split(" ")
    op = rng.choice(
        ["typo", "typo", "add", "drop", "emoji", "punct", "stretch", "upper", "lower", "number", "slang"]
    )
    if op == "typo":
        return _typo(rng, text)
    if op == "add":
        words.insert(
            rng.randrange(len(words) + 1), rng.choice(["really", "so", "just", "lol", "omg", "again"])
        )
    elif op == "drop" and len(words) > 3:
        del words[rng.randrange(len(words))]
    elif op == "emoji":
        words.append(rng.choice(EMOJI) * rng.randint(1, 3))
    elif op == "punct":
        return text.rstrip("!?.") + rng.choice(("!!!", "?!", "...", "!!!!!!"))
    elif op == "stretch":
        return _stretch(rng, text)
    elif op == "upper":
        return text.upper()
    elif op == "lower":
        return text.lower()
    elif op == "number":
        return re.sub(r"\d+", lambda m: str(int(m.group()) + rng.randint(1, 5)), text) + (
            "" if re.search(r"\d", text) else " 2"
        )
    elif op == "slang":
        for long, short in SLANG.items():
            text = re.sub(rf"\b{long}\b", short, text)
        return text
    return " ".join(words)


def reader_text(text: str) -> str:
    """The ground truth's view of a comment: case, spacing and punctuation folded, whole links kept
    (without scheme, www. and tracking parameters), letters as typed."""
    text = re.sub(r"(?i)\b(?:https?://)?(?:www\.)?(?=[a-z0-9-]+\.[a-z])", "", text)
    text = re.sub(
        r"([?&])([^=&\s#]+)=[^&\s#]*",
        lambda m: (
            m.group(1)
            if m.group(2).lower().startswith("utm_") or m.group(2).lower() in TRACKING_PARAMS
            else m.group(0)
        ),
        text,
    )
    return normalise(text)


def _rfc3339(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def generate(n: int, *, seed: int = 11, repeat_share: float = 0.3) -> Corpus:
    """`n` short comments and messages; about `repeat_share` of them repeat an earlier one with a
    small edit (or none). Times rise over about a day."""
    rng = random.Random(seed)
    threads = [f"video-{i}" for i in range(max(4, n // 80))]
    authors = [f"user{i}" for i in range(max(8, n // 5))]
    start = datetime(2026, 5, 1, tzinfo=UTC)
    corpus = Corpus([])
    originals: list[tuple[str, str, str, str]] = []  # text, author, thread, family

    def emit(text: str, author: str, thread: str, kind: str, family: str | None) -> None:
        cid = f"s{len(corpus.events):06d}"
        at = start + timedelta(seconds=len(corpus.events) * 86400 / max(n, 1))
        corpus.events.append(
            {
                "id": cid,
                "thread_id": thread,
                "text": text,
                "posted_at": _rfc3339(at),
                "author": {"id": author},
            }
        )
        corpus.kind[cid] = kind
        if family is not None:
            corpus.family[cid] = family

    while len(corpus.events) < n:
        r = rng.random()
        author, thread = rng.choice(authors), rng.choice(threads)
        if originals and r < repeat_share:
            text, o_author, o_thread, family = rng.choice(originals[-2000:])
            who = rng.random()
            if who < 0.5:
                author, thread = o_author, o_thread if rng.random() < 0.6 else thread
            elif who < 0.75:
                thread = o_thread
            if rng.random() < 0.35:
                text = _track(rng, text) if "." in text and "/" in text and rng.random() < 0.5 else text
            else:
                text = edit(rng, text)
            emit(text, author, thread, "repeat", family)
            continue
        family = f"f{len(corpus.events)}"
        if r < repeat_share + 0.1:
            text, kind = link(rng, rng.choice(["tube.example", "social.example.net"])), "link_only"
        elif r < repeat_share + 0.16:
            text, kind = _style(rng, rng.choice(PROMO).format(link=link(rng))), "promo"
        else:
            text, kind = _chat(rng), "chat"
        emit(text, author, thread, kind, family)
        originals.append((text, author, thread, family))
    return corpus
