"""A labelled corpus of short message-style spam with no link, and of ordinary people talking
about the same things, seeded and deterministic.

Spam families: prize and winnings notices, premium-rate and short-code services, "call/text/
reply to claim", subscription and ringtone offers, "you have been selected", urgency and
account scares, money amounts with a call to action. Each family is written from parts (openers,
offers, instructions, numbers, rates, small print) and bent by texting habits, so no family is
one template.

Ordinary counter-cases talk about prizes, phone numbers, calls and texts, subscriptions, being
chosen, urgent things, accounts and money the way people do in messages and news threads, so a
signal that fires on the topic rather than on the pitch shows up as a false positive.

Every family has two pools of phrasing, `dev` and `test`: rules are tuned looking at `dev`, and
quality tests judge `test`, so the figures say how the signals generalise beyond the wording
they were written against.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime

from streamproc.gen.labelled import Labelled
from streamproc.gen.texting import cap, mangle

SPAM_FAMILIES = ("prize", "premium", "claim", "subscription", "selected", "urgency", "money")
HAM_FAMILIES = (
    "prize_talk",
    "number_talk",
    "call_talk",
    "subscription_talk",
    "selected_talk",
    "urgency_talk",
    "money_talk",
    "claim_talk",
    "chat",
)
SPLITS = ("dev", "test")

Pools = dict[str, tuple[list[str], list[str]]]  # part -> (dev phrasings, test phrasings)


def _pick(rng: random.Random, pools: Pools, part: str, split: str) -> str:
    dev, test = pools[part]
    return rng.choice(dev if split == "dev" else test)


# --- the pieces spam is made of ------------------------------------------------------------------
CURRENCY = ["£", "£", "£", "$", "€"]
AMOUNTS = [100, 150, 200, 250, 350, 500, 750, 800, 900, 1000, 1500, 2000, 2500, 5000, 10000]
KEYWORDS = ["WIN", "CLAIM", "PRIZE", "GO", "YES", "CASH", "JOIN", "PLAY", "GIFT", "DEAL", "BONUS", "LUCKY",
            "REWARD", "TONE", "FUN", "CHAT", "QUIZ", "MOVIE", "SPIN", "GOLD", "VIP", "OK", "START", "HOT"]  # fmt: skip
PRIZE_ITEMS = [
    "a {c}{a} shopping voucher", "{c}{a} cash", "a 2 week holiday for 2", "a brand new smartphone",
    "a luxury cruise", "a new laptop", "2 tickets to the cup final", "a {c}{a} award", "a camera phone",
    "a weekend break in Paris", "a {c}{a} gift card", "free flights for a year", "a games console",
    "a {c}{a} prize", "a year of free cinema", "a new tablet",
]  # fmt: skip


def _amount(rng: random.Random) -> str:
    c = rng.choice(CURRENCY)
    a = rng.choice(AMOUNTS)
    return f"{c}{a:,}" if rng.random() < 0.5 else f"{c}{a}"


def _item(rng: random.Random) -> str:
    return rng.choice(PRIZE_ITEMS).format(c=rng.choice(CURRENCY), a=rng.choice(AMOUNTS))


def _short_code(rng: random.Random) -> str:
    return str(rng.randint(60000, 89999)) if rng.random() < 0.8 else str(rng.randint(6000, 9999))


def _premium(rng: random.Random) -> str:
    """Made-up premium-rate, shared-cost or free-phone numbers in the common written forms."""
    r = rng.random()
    if r < 0.4:
        return "09" + "".join(str(rng.randint(0, 9)) for _ in range(9))
    if r < 0.6:
        return rng.choice(["0871", "0870", "0844", "0845"]) + "".join(
            str(rng.randint(0, 9)) for _ in range(7)
        )
    if r < 0.75:
        return (
            rng.choice(["0800", "0808"])
            + " "
            + str(rng.randint(100, 999))
            + " "
            + str(rng.randint(1000, 9999))
        )
    if r < 0.9:
        return f"1-900-{rng.randint(200, 999)}-{rng.randint(1000, 9999)}"
    return (
        "09"
        + str(rng.randint(10, 99))
        + " "
        + str(rng.randint(100, 999))
        + " "
        + str(rng.randint(1000, 9999))
    )


def _rate(rng: random.Random) -> str:
    return rng.choice(
        [
            f"{rng.choice([10, 25, 50, 150])}p/min", f"£1.{rng.choice(['50', '00', '99'])}/msg",
            f"{rng.choice([150, 300])}p/msg", "std txt rate", "std rates apply", f"£{rng.randint(3, 6)}/wk",
            "msg&data rates may apply", f"{rng.choice([10, 20])}p per min", "calls cost 60p/min",
            f"cost £{rng.randint(1, 4)}.50 per week", "network charges apply",
        ]
    )  # fmt: skip


def _small_print(rng: random.Random) -> str:
    parts = rng.sample(
        [
            "T&Cs apply", "T&C apply", "18+", "16+", "18+ only", f"PO Box {rng.randint(100, 9999)}",
            f"stop to {_short_code(rng)}", "opt out reply STOP", "sae for T&Cs", "unsub txt STOP",
            f"help {_premium(rng)}", f"ref {rng.choice(KEYWORDS)}{rng.randint(10, 999)}",
        ],
        rng.randint(0, 2),
    )  # fmt: skip
    return " ".join(parts)


def _how(rng: random.Random, split: str, verb_pool: str = "to claim") -> str:
    """The instruction: call a number, text a keyword to a short code, reply."""
    kw = rng.choice(KEYWORDS)
    forms_dev = [
        f"call {_premium(rng)}", f"txt {kw} to {_short_code(rng)}", f"text {kw} to {_short_code(rng)}",
        f"reply {kw}", f"call {_premium(rng)} now", f"send {kw} to {_short_code(rng)}",
    ]  # fmt: skip
    forms_test = [
        f"ring {_premium(rng)}", f"sms {kw} to {_short_code(rng)}", f"just txt {kw} 2 {_short_code(rng)}",
        f"reply with {kw}", f"dial {_premium(rng)} today", f"text the word {kw} to {_short_code(rng)}",
        f"call us free on {_premium(rng)}", f"reply {kw} now",
    ]  # fmt: skip
    how = rng.choice(forms_dev if split == "dev" else forms_test)
    return f"{verb_pool} {how}" if verb_pool and rng.random() < 0.7 else how


SPAM_POOLS: Pools = {
    "prize_open": (
        ["WINNER!", "Congratulations!", "Congrats!", "You have won", "Great news!", "URGENT!", "Lucky you!"],
        [
            "WINNER!!",
            "CONGRATULATIONS",
            "Well done!",
            "You're a winner!",
            "Good news!",
            "Todays winner!",
            "Hooray!",
        ],
    ),
    "prize_body": (
        [
            "You have won {item}!",
            "you have been awarded {item}.",
            "Your number won {item} in our weekly draw.",
            "you are the winner of {item}.",
            "U have won {item}!",
        ],
        [
            "Ur mobile number has won {item}.",
            "you've won {item} in this month's prize draw!",
            "A guaranteed {item} is yours.",
            "your entry came top and {item} is waiting for you.",
            "you are guaranteed {item} or {amount}.",
            "This is our 2nd attempt to contact u, u have won {item}.",
        ],
    ),
    "premium_open": (
        [
            "Lonely tonight?",
            "Fancy a chat?",
            "Bored?",
            "Quiz time!",
            "Hot gossip!",
            "Your horoscope is ready.",
        ],
        [
            "Want some fun?",
            "Sunshine quiz!",
            "Feeling lucky?",
            "Singles near you want to talk.",
            "Movie trivia!",
            "Psychic readings live now.",
        ],
    ),
    "premium_body": (
        [
            "Talk to a live operator now, {how}.",
            "Answer 3 easy questions to win {item}, {how}.",
            "Local girls are waiting, {how}.",
            "Find out what the stars say, {how}.",
        ],
        [
            "Real people waiting for ur call, {how}.",
            "Name the capital of France and win {item}! {how}.",
            "Meet new friends in ur area, {how}.",
            "Get ur love reading 2nite, {how}.",
            "Guess the film and win {item}, {how}.",
        ],
    ),
    "claim_body": (
        [
            "Your {thing} is ready to collect. {how}.",
            "To claim your {thing} {how}.",
            "You have an unclaimed {thing}. {how} before it expires.",
            "Claim your {thing} today, {how}.",
        ],
        [
            "A {thing} is being held in your name, {how} to receive it.",
            "Collect ur {thing} now: {how}.",
            "Don't miss your {thing}! {how} to get it.",
            "Your {thing} expires soon. {how}.",
            "We tried to deliver your {thing}. {how} to arrange delivery.",
        ],
    ),
    "claim_thing": (
        ["reward", "voucher", "bonus", "free gift", "prize", "cashback"],
        ["parcel", "award", "mystery gift", "loyalty points", "free entry", "compensation"],
    ),
    "sub_body": (
        [
            "Get the hottest {hit} ringtone now! {how}.",
            "Your free ringtone is waiting, {how}.",
            "Join our {svc} club for free tones every week, {how}.",
            "Thanks for subscribing to {svc}, you will be charged {rate}.",
            "Free {svc} for 1 week, then {rate}. {how}.",
        ],
        [
            "Download the new {hit} tone + wallpaper 4 free! {how}.",
            "Your {svc} subscription is now active at {rate}. To cancel {how}.",
            "Weekly {svc} direct 2 ur phone, {how}.",
            "Get 3 free games every week! {how}.",
            "U r subscribed 2 {svc}, {rate}. Reply STOP to end.",
        ],
    ),
    "sub_svc": (
        ["ringtone", "TonesClub", "MobileFun", "horoscope", "video clips"],
        ["GameZone", "daily jokes", "celeb gossip", "RealTones", "wallpaper of the week"],
    ),
    "sub_hit": (
        ["No.1 chart", "club anthem", "summer hit"],
        ["top 10", "dance floor", "viral"],
    ),
    "selected_body": (
        [
            "You have been selected to receive {item}. {how}.",
            "You have been specially selected for {item}! {how}.",
            "As a valued customer you are entitled to {item}. {how}.",
            "Your number has been chosen to receive {item}. {how}.",
        ],
        [
            "U have been picked 2 receive {item}, {how}.",
            "Our records show you qualify for {item}. {how}.",
            "As a loyal customer you have been chosen for {item}! {how}.",
            "You are eligible for {item}, {how}.",
            "Had ur mobile 11 months or more? U r entitled to {item}. {how}.",
        ],
    ),
    "urgency_body": (
        [
            "URGENT! Your account has been suspended. {how} to verify your details.",
            "Final notice: your mobile account will be closed today. {how}.",
            "Security alert: unusual activity on your card. {how} immediately.",
            "Your bank account is locked. {how} within 24 hours.",
        ],
        [
            "IMPORTANT: ur SIM will be blocked 2day, {how} 2 stop this.",
            "Warning! Your payment failed and your account is on hold, {how}.",
            "Last chance: your reward points expire at midnight. {how}.",
            "You have 1 new voicemail, {how}.",
            "Action required: confirm your identity or lose access. {how}.",
        ],
    ),
    "money_body": (
        [
            "Get {amount} cash today, no credit check! {how}.",
            "Earn {amount} a week from home, {how}.",
            "You could be owed {amount} in compensation. {how}.",
            "Need {amount} fast? Loans approved in minutes, {how}.",
        ],
        [
            "Make {amount} extra each month, {how} 4 details.",
            "Debt problems? Write off up 2 70%, {how}.",
            "{amount} payout guaranteed! {how}.",
            "Cash in ur old phone 4 up to {amount}, {how}.",
            "Ur entitled 2 a {amount} tax rebate, {how}.",
        ],
    ),
    "tail": (
        ["Valid 12hrs only.", "Offer ends soon!", "Don't miss out!", "", "", "Claim code {code}."],
        ["Expires 2nite!", "Act now!", "Limited time.", "", "", "Quote ref {code}."],
    ),
}

FAMILY_VERB = {
    "prize": "to claim",
    "premium": "",
    "claim": "",
    "subscription": "",
    "selected": "",
    "urgency": "",
    "money": "",
}


def _spam_text(rng: random.Random, family: str, split: str) -> str:
    p = SPAM_POOLS
    how = _how(rng, split, FAMILY_VERB[family])
    fill = {
        "item": _item(rng), "amount": _amount(rng), "how": how, "rate": _rate(rng),
        "thing": _pick(rng, p, "claim_thing", split), "svc": _pick(rng, p, "sub_svc", split),
        "hit": _pick(rng, p, "sub_hit", split),
    }  # fmt: skip
    if family == "prize":
        parts = [_pick(rng, p, "prize_open", split), _pick(rng, p, "prize_body", split), cap(how) + "."]
    elif family == "premium":
        parts = [_pick(rng, p, "premium_open", split), _pick(rng, p, "premium_body", split), _rate(rng)]
    elif family == "claim":
        parts = [_pick(rng, p, "claim_body", split)]
    elif family == "subscription":
        parts = [_pick(rng, p, "sub_body", split)]
    elif family == "selected":
        parts = [_pick(rng, p, "selected_body", split)]
    elif family == "urgency":
        parts = [_pick(rng, p, "urgency_body", split)]
    else:
        parts = [_pick(rng, p, "money_body", split)]
    tail = _pick(rng, p, "tail", split).format(code=f"{rng.choice(KEYWORDS)}{rng.randint(100, 9999)}")
    if tail:
        parts.append(tail)
    if rng.random() < 0.6:
        parts.append(_small_print(rng))
    if family not in ("premium", "subscription") and rng.random() < 0.3:
        parts.append(_rate(rng))
    text = " ".join(s for s in parts if s).format(**fill)
    return mangle(rng, text, speak=rng.choice([0.0, 0.2, 0.5]), shout=0.12)


# --- what people say about the same things -------------------------------------------------------
NAMES = ["mum", "dad", "Sam", "Jo", "Priya", "Tom", "Ana", "the boss", "Kev", "Lou", "Grandma", "Mo"]
PLACES = ["the station", "work", "the pub", "uni", "the gym", "Tesco", "the match", "church", "the library"]
HAM_POOLS: Pools = {
    "prize_talk": (
        [
            "Did you see she won the {award}? Well deserved.",
            "We won 3-1 last night!! what a game",
            "{name} won {amount} on the bingo lol, drinks are on her",
            "The prize money at these tournaments is crazy now.",
            "I never win anything in those raffles.",
            "Congrats on the new job!! You deserve it",
        ],
        [
            "He won the {award} in {year} and nobody remembers.",
            "lol I won the pub quiz, prize was a bottle of wine",
            "Who won the match? I missed the end",
            "My ticket won {amount}, not exactly retiring yet haha",
            "The lottery is a tax on people who can't do maths.",
            "Congratulations to the winners, lovely photos.",
            "The school raffle prize was a hamper, {name} was thrilled",
        ],
    ),
    "number_talk": (
        [
            "My new number is {mobile}, save it",
            "Their helpline is {free} if anyone needs it.",
            "Call the council on {landline}, they sorted mine in a day.",
            "I rang {free} and waited an hour on hold.",
        ],
        [
            "If you've been affected, the support line is {free}.",
            "Text me on {mobile} when you land",
            "The office number changed to {landline}, tell {name}",
            "Their 0845 numbers cost a fortune from a mobile.",
            "Got a missed call from {landline}, anyone know who that is?",
        ],
    ),
    "call_talk": (
        [
            "I'll call you when I'm done at {place}.",
            "Text me when you get there.",
            "Can you call {name} back? She tried twice.",
            "Sorry, I'll call later.",
            "Reply when you can, no rush.",
            "Call me, it's about tomorrow",
        ],
        [
            "Ring me after 6, I'm at {place} till then.",
            "Will text u from {place}",
            "Did {name} reply to you?",
            "Ok call me when u wake up",
            "Can u text {name} n tell her we're late",
            "Just tried to call u, ring me back",
            "Send me a text with the address pls",
        ],
    ),
    "subscription_talk": (
        [
            "I cancelled my gym subscription, never went anyway.",
            "My phone bill went up {amount} a month, no warning.",
            "Unsubscribed from their emails, nothing but spam.",
            "The paper wants me to subscribe to read one article.",
        ],
        [
            "Their streaming subscription went up again, I'm out.",
            "Does anyone still buy ringtones? Haha",
            "Cancelled the magazine, it's all ads now.",
            "I pay {amount} a month for broadband that barely works.",
            "Reply STOP never works with those texts, I just block them.",
        ],
    ),
    "selected_talk": (
        [
            "I got selected for jury duty, three weeks!",
            "Our school was chosen for the pilot scheme.",
            "She's been picked for the county team, so proud",
            "Only 20 people were selected out of 400 applicants.",
        ],
        [
            "{name} was chosen as captain this season",
            "My dad got selected for the screening trial.",
            "Was your street picked for the new bins?",
            "They selected the jury on Monday.",
            "Proud to say our choir was chosen for the final!",
        ],
    ),
    "urgency_talk": (
        [
            "Urgent: {name} needs the car back by 6",
            "The storm warning is urgent, please stay indoors.",
            "My bank account got frozen last week, took days to sort.",
            "Deadline is tomorrow!! help",
            "Call me back, it's urgent",
            "My account got hacked so ignore any weird messages from me.",
        ],
        [
            "URGENT need a lift from {place}",
            "Please verify before you share these stories.",
            "The account of the witness was very different.",
            "Hurry up we're leaving in 5 mins",
            "Final notice from the library lol, I owe them 40p",
            "My card got blocked abroad, so embarrassing",
            "Ugh security alert on my phone again, it was just me logging in",
        ],
    ),
    "money_talk": (
        [
            "I owe you {amount} for the tickets, will pay fri",
            "They paid {amount} for that car?",
            "The council wasted {amount} on this.",
            "Can u lend me 10 quid till payday",
            "Got {amount} back from the tax office, finally",
        ],
        [
            "Rent went up {amount} this year, unbelievable.",
            "Send me ur bank details and I'll pay u back for dinner",
            "Spent {amount} on shopping today oops",
            "A {amount} fine for parking there, ridiculous.",
            "Made {amount} selling my old bike, not bad",
        ],
    ),
    "claim_talk": (
        [
            "They claim it's safe but nobody checked.",
            "You can claim the tax back on the website.",
            "I need to claim my travel expenses.",
            "Did you claim for the delayed train?",
        ],
        [
            "He claims he was at {place} all night.",
            "Claim your refund from the airline, they owe you.",
            "The insurance claim took months.",
            "Their claim to be the oldest pub is nonsense.",
            "My parcel is stuck at the depot again, third time.",
        ],
    ),
    "chat": (
        [
            "Ok see u at 7",
            "Running late, sorry!",
            "Did you eat yet?",
            "Haha that's hilarious",
            "Where are you?",
            "Going to {place}, need anything?",
            "Happy birthday!! Have a great day",
            "I'm home now, night x",
        ],
        [
            "On my way, 10 mins",
            "lol no way",
            "What time is the film?",
            "Miss you, come home soon",
            "K thx",
            "Can't make it tonight, sorry",
            "Love you, see u tmrw",
            "Just leaving {place} now",
        ],
    ),
}
GREETINGS = ["Hey {name}, ", "Hi ", "Oi ", "{name}! ", "So ", "Btw ", "Morning! ", "Ugh ", "Lol "]
SIGN_OFFS = [" x", " xx", " lol", " :)", " haha", " anyway", " ttyl", " cheers", " tho", " innit"]
AWARDS = ["Booker prize", "Nobel prize", "gold medal", "title", "Oscar", "election", "cup"]


def _uk_mobile(rng: random.Random) -> str:
    return f"07{rng.randint(100, 999)} {rng.randint(100000, 999999)}"


def _ham_text(rng: random.Random, family: str, split: str) -> str:
    template = _pick(rng, HAM_POOLS, family, split)
    text = template.format(
        name=rng.choice(NAMES), place=rng.choice(PLACES), amount=_amount(rng), award=rng.choice(AWARDS),
        year=rng.randint(1990, 2024), mobile=_uk_mobile(rng),
        free=f"{rng.choice(['0800', '0808'])} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
        landline=f"01{rng.randint(100, 999)} {rng.randint(100000, 999999)}",
    )  # fmt: skip
    if rng.random() < 0.3:  # two thoughts in one message
        extra = _pick(rng, HAM_POOLS, "chat", split).format(place=rng.choice(PLACES))
        text = f"{text} {extra}"
    if rng.random() < 0.35:
        text = rng.choice(GREETINGS).format(name=rng.choice(NAMES)) + text
    if rng.random() < 0.3:
        text += rng.choice(SIGN_OFFS)
    return mangle(rng, text, speak=rng.choice([0.0, 0.0, 0.3, 0.6]), shout=0.04)


def message_corpus(
    n: int,
    *,
    seed: int = 0,
    split: str = "dev",
    spam_families: Sequence[str] = SPAM_FAMILIES,
    ham_families: Sequence[str] = HAM_FAMILIES,
    spam_ratio: float = 0.3,
    prefix: str = "m",
) -> list[Labelled]:
    """`n` labelled messages, deterministic for a seed, in one thread without authors or times
    (the shape of a text-only labelled file: what `streamproc eval` reads from a CSV)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    rng = random.Random(seed)
    published = datetime(2020, 1, 1, tzinfo=UTC)
    out: list[Labelled] = []
    for i in range(n):
        if rng.random() < spam_ratio:
            family = rng.choice(list(spam_families))
            text, label = _spam_text(rng, family, split), "spam"
        else:
            family = rng.choice(list(ham_families))
            text, label = _ham_text(rng, family, split), "ham"
        out.append(
            Labelled(f"{prefix}-{i}", text, label, family, "messages", "", "messages", published, published)
        )
    return out
