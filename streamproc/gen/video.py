"""A labelled corpus of comments under music videos: short, informal self-promotion spam
("check out my channel", "sub 4 sub", promo codes, free-gift lures, money from home, bare
links) and the ordinary short reactions around it, seeded and deterministic.

Comments come from several made-up videos (`SOURCES`), each with its own artist, song words and
in-jokes, so a model can be trained on some videos and judged on another (leave one source out),
as moderators of a new video would meet it. Spam families have `dev` and `test` phrasings like
gen/messages.py; ordinary comments include the hard ones that mention views, channels, links,
likes and subscribing in passing.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from streamproc.gen.labelled import Labelled
from streamproc.gen.texting import EMOJI, cap, mangle


@dataclass(frozen=True, slots=True)
class Source:
    """One made-up video and the words its viewers use."""

    name: str
    artist: str
    song: str
    words: tuple[str, ...]  # things viewers mention: moves, lines, places
    genre: str


SOURCES = (
    Source("v-dance", "Kimo Park", "Horse Step", ("the dance", "the elevator bit", "the suit", "the beat drop"), "dance"),
    Source("v-pop", "Lena Vayle", "Thunderclap", ("the chorus", "her voice", "the outfits", "the lion"), "pop"),
    Source("v-party", "Redline Crew", "Party Anthem Tonight", ("the shuffle", "the zebra pants", "the drop", "the party"), "party"),
    Source("v-rap", "M.C. Arlo", "Glass House", ("the second verse", "the lyrics", "the flow", "the piano"), "rap"),
    Source("v-latin", "Selva Rios", "Tierra Viva", ("the hips", "the drums", "the desert scene", "the spanish part"), "latin"),
)  # fmt: skip
SPAM_FAMILIES = ("channel", "follow", "promo", "music_promo", "money", "link_drop")
SPLITS = ("dev", "test")

CONTENT = ["gaming videos", "makeup tutorials", "beats", "covers", "prank videos", "vlogs", "dance covers",
           "minecraft builds", "reaction videos", "comedy sketches", "guitar covers", "fitness tips"]  # fmt: skip
HANDLES = ["jaydenbeats", "kxllr_gaming", "mila.makeup", "thereal_zed", "bigtunes99", "sasha_sings",
           "dj_novak", "prankbros", "ellie_vlogs", "coverqueen", "rapking2000", "nova_art"]  # fmt: skip
PRODUCTS = ["gift cards", "robux", "v-bucks", "iphone 6", "psn codes", "amazon vouchers", "xbox live codes",
            "steam keys", "followers", "likes"]  # fmt: skip
SITES = ["{w}{n}.com", "free{w}.net", "{w}-{w2}.org", "get{w}now.com", "{w}zone.info", "best{w}.co"]
SITE_WORDS = [
    "gift",
    "cash",
    "promo",
    "win",
    "prize",
    "music",
    "beats",
    "money",
    "earn",
    "deal",
    "fan",
    "star",
]


def _site(rng: random.Random) -> str:
    w, w2 = rng.sample(SITE_WORDS, 2)
    return rng.choice(SITES).format(w=w, w2=w2, n=rng.randint(1, 99))


def _video_link(rng: random.Random) -> str:
    vid = "".join(
        rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") for _ in range(11)
    )
    return rng.choice(
        [f"https://www.youtube.com/watch?v={vid}", f"http://youtu.be/{vid}", f"youtube.com/watch?v={vid}"]
    )


def _url(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.35:
        return _video_link(rng)
    if r < 0.55:
        return f"https://{rng.choice(['bit.ly', 'goo.gl', 'tinyurl.com', 'ow.ly'])}/{rng.randbytes(3).hex()}"
    if r < 0.85:
        return f"http://www.{_site(rng)}/" if rng.random() < 0.5 else _site(rng)
    return f"https://www.facebook.com/{rng.choice(HANDLES)}"


Pools = dict[str, tuple[list[str], list[str]]]
SPAM: Pools = {
    "channel": (
        [
            "Check out my channel, I make {content}!",
            "Please subscribe to my channel, I upload {content} every week",
            "hey guys check out my channel and subscribe :)",
            "Visit my channel for {content}, thank you!!",
            "If you like {content} check my channel out",
            "Subscribe to me, I'm trying to hit 1000 subs",
        ],
        [
            "Would mean the world if u checked out my channel, I do {content}",
            "go to my channel and sub pls",
            "Anyone into {content}? Come see my channel",
            "new youtuber here, {content}, all support appreciated",
            "Hi! I post {content}, take a look at my channel if u want",
            "only 50 subscribers away from 500, help me out guys",
            "pls sub to my channel i do {content} 🙏",
        ],
    ),
    "follow": (
        [
            "sub4sub anyone? i sub back",
            "Follow me on instagram @{handle}",
            "sub 2 me and i'll sub back!!",
            "follow me on twitter @{handle} i follow back",
            "like this comment so people see my channel",
        ],
        [
            "f4f? just comment done and i'll follow u",
            "add me on snapchat: {handle}",
            "who wants to do sub for sub?",
            "follow @{handle} on insta for daily {content}",
            "I will subscribe to everyone who subscribes to me",
            "Thumbs up so everyone can see this: my insta is {handle}",
        ],
    ),
    "promo": (
        [
            "Get free {product} here {url}",
            "FREE {product} giveaway at {url} hurry!!",
            "Use code {code} for 20% off at {site}",
            "I got free {product} from {url} it actually works",
            "Want free {product}? go to {url}",
        ],
        [
            "{product} for free, no survey! {url}",
            "Promo code {code} gives you 50% off everything at {site}",
            "Giveaway!! win {product} at {url}",
            "this site gives u free {product}, i tried it {url}",
            "Free {product} generator 2015 working {url}",
        ],
    ),
    "music_promo": (
        [
            "Please check out my new song, I'm a {age} year old rapper from {city}",
            "Hey I'm a small artist, listen to my cover of this song",
            "I just dropped my first mixtape, give it a listen on my channel",
            "My band just released our first single! Search {handle} on youtube",
        ],
        [
            "I'm an upcoming singer, would love if u gave my music a chance",
            "im {age} and i make beats, tell me what u think on my channel",
            "Listen to my remix of this song, link on my page",
            "we're a small band from {city}, please listen to our new track",
            "Give my new track a listen: {url}",
        ],
    ),
    "money": (
        [
            "I make $500 a day working from home, see how {url}",
            "Earn money online easy, I made $3000 last month {url}",
            "Want to make money from your phone? {url}",
            "Get paid to watch videos!! {url}",
        ],
        [
            "My mom makes $80 an hour online, look {url}",
            "Easiest way to earn cash from home: {url}",
            "quit my job and now make $200 a day online, here's how {url}",
            "paid surveys pay $25 each {url}",
        ],
    ),
    "link_drop": (
        ["{url}", "watch this {url}", "this is better {url}", "lol look {url}", "{song} remix {url}"],
        ["{url} 😂", "omg {url}", "must see {url}", "{artist} fans look {url}", "funny {url}"],
    ),
}
CODES = ["SAVE20", "FREESHIP", "YT50", "SUMMER", "PROMO10", "LUCKY7", "FANS25", "WELCOME"]
CITIES = ["Ohio", "London", "Toronto", "Lagos", "Manila", "Texas", "Sydney", "Berlin", "Brooklyn"]


def _spam(rng: random.Random, family: str, split: str, src: Source) -> str:
    dev, test = SPAM[family]
    template = rng.choice(dev if split == "dev" else test)
    text = template.format(
        content=rng.choice(CONTENT), handle=rng.choice(HANDLES), product=rng.choice(PRODUCTS), url=_url(rng),
        code=rng.choice(CODES), site=_site(rng), age=rng.randint(13, 19), city=rng.choice(CITIES),
        song=src.song, artist=src.artist,
    )  # fmt: skip
    r = rng.random()
    if r < 0.3:  # a word for the video first: spammers blend in
        text = rng.choice(OPENERS).format(artist=src.artist, song=src.song) + " " + text
    elif r < 0.4 and family in ("channel", "music_promo"):
        text += f" {_url(rng)}"
    return mangle(rng, text, speak=rng.choice([0.0, 0.2, 0.4]), shout=0.08)


OPENERS = ["Love this song!", "{artist} is amazing.", "Great video.", "{song} never gets old!", "Hi guys,", "Sorry for spam,",
           "Hey!", "Nice vid,", "I know this is random but"]  # fmt: skip

HAM: tuple[list[str], list[str]] = (
    [
        "{artist} never disappoints",
        "who's still listening in {year}?",
        "This song makes me cry every time",
        "{n} billion views, well deserved",
        "{word} at {ts} 😂",
        "came here from tiktok lol",
        "my daughter loves this song",
        "This is my song!",
        "best song of {year}",
        "I remember when this came out",
        "{word} is everything",
        "the lyrics are so deep",
        "Who else is here after the awards?",
        "{song} on repeat all day",
        "still a banger",
        "this video is so weird but i love it",
        "my whole school knew {word} by heart",
        "{artist} please come to {city}",
        "Anyone else watch this at least once a week?",
        "{word} gets me every time",
    ],
    [
        "{year} and still amazing",
        "i can't stop watching {word}",
        "{artist} deserves every award",
        "{song} brings back memories",
        "{word} at {ts} lol",
        "listening to this while studying",
        "this was played at my wedding ❤️",
        "{artist}'s best song by far",
        "who's here because of the game?",
        "I like the live version better",
        "the official channel should upload the live one",
        "didn't expect {word} to be that good",
        "my dad dances to this every christmas",
        "{n} years later still a classic",
        "Is it just me or does {word} look amazing in HD",
        "the comments here are so wholesome",
        "can't believe this has {n} billion views",
        "i came from the link in the article, no regrets",
        "like if you're watching in {year}",
        "subscribed to {artist} years ago, never looked back",
    ],
)
HARD_HAM = (
    [
        "the remix is on {artist}'s channel btw",
        "Who else got this recommended after {year}?",
        "this deserves more views honestly",
        "the live version on their channel is even better",
        "why does this have dislikes",
    ],
    [
        "{artist} should follow up with a tour",
        "Check out the behind the scenes, it's on the official channel",
        "the link in the description goes to the full album",
        "subscribe to {artist} if you haven't, she's earned it",
        "this got me through exams, thanks {artist}",
    ],
)


def _ham(rng: random.Random, split: str, src: Source) -> str:
    pool = (HARD_HAM if rng.random() < 0.12 else HAM)[0 if split == "dev" else 1]
    text = rng.choice(pool).format(
        artist=src.artist, song=src.song, word=rng.choice(src.words), year=rng.randint(2013, 2016),
        n=rng.randint(1, 3), ts=f"{rng.randint(0, 3)}:{rng.randint(0, 59):02d}", city=rng.choice(CITIES),
    )  # fmt: skip
    if rng.random() < 0.25:
        text = rng.choice(["lol ", "omg ", "honestly ", "wow ", "ok but ", ""]) + text
    if rng.random() < 0.2:
        text = cap(text) + " " + rng.choice(EMOJI)
    return mangle(rng, text, speak=rng.choice([0.0, 0.1, 0.3]), shout=0.05)


def video_corpus(
    n: int,
    *,
    seed: int = 0,
    split: str = "dev",
    sources: Sequence[Source] = SOURCES,
    spam_families: Sequence[str] = SPAM_FAMILIES,
    spam_ratio: float = 0.5,
    prefix: str = "y",
) -> list[Labelled]:
    """`n` labelled comments spread over `sources` (each its own thread), deterministic for a
    seed; authors are people-like handles, times an hour apart per video."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    rng = random.Random(seed)
    start = datetime(2015, 1, 1, tzinfo=UTC)
    out: list[Labelled] = []
    for i in range(n):
        src = sources[i % len(sources)]
        if rng.random() < spam_ratio:
            family = rng.choice(list(spam_families))
            text, label = _spam(rng, family, split, src), "spam"
        else:
            family, label = "ham", "ham"
            text = _ham(rng, split, src)
        author = f"{rng.choice([*HANDLES, 'user', 'x', 'fan'])}{rng.randint(1, 9999)}"
        at = start + timedelta(minutes=37 * i)
        out.append(Labelled(f"{prefix}-{i}", text, label, family, src.name, author, src.name, at, start))
    return out
