"""Link-free spam families and video-comment self-promotion: each family fires on its pitch and
stays quiet on people talking about the same subject (prizes, numbers, money, urgency…)."""

from __future__ import annotations

import re

import pytest

from streamproc.detect.content import DIGITS, RULES, active_branches, content_signals, first_words, text_keys
from streamproc.detect.features import prepare
from streamproc.gen.labelled import labelled_corpus
from streamproc.gen.messages import message_corpus
from streamproc.gen.video import video_corpus

_WORDS = re.compile(r"[^\W_]+")
STRONG = 0.3  # a signal at least this heavy can push a comment to hold with one more


def _codes(text: str, *, has_links: bool = False) -> set[str]:
    return {s.code for s in content_signals(prepare(text), has_links=has_links)}


def _strong(text: str) -> list[str]:
    return [s.code for s in content_signals(prepare(text)) if s.weight >= STRONG]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        # prizes and winnings
        ("Your mobile number has won a £2,000 bonus in the June draw", "content.prize"),
        ("You've been awarded a 3 night city break!", "content.prize"),
        ("u r today's lucky winner, well done", "content.prize"),
        ("CONGRATULATIONS you are guaranteed £500 cash", "content.prize"),
        ("Free entry into our monthly prize draw", "content.prize"),
        # premium-rate numbers and short codes
        ("For your reading call 09067 123 456", "content.premium_number"),
        ("txt PLAY to 85233 for your game", "content.premium_number"),
        ("Send the word: GOLD to 62211", "content.premium_number"),
        ("Ring 1-900-555-0100 tonight", "content.premium_number"),
        ("only 25p/min, T&Cs apply", "content.small_print"),
        ("std txt rate, opt out reply STOP", "content.small_print"),
        ("Chat with live girls now", "content.premium_service"),
        # call / text / reply to claim
        ("Ring our hotline now to claim it", "content.claim"),
        ("To collect, just text YES to our number", "content.claim"),
        ("Your gift is waiting to be claimed", "content.claim"),
        ("an unclaimed refund sits in your account", "content.claim"),
        # subscriptions and ringtones
        ("Download this week's top ringtone", "content.subscription"),
        ("Welcome! You will be charged 150p per msg", "content.subscription"),
        ("thx 4 joining GameTime, 2 free games every week", "content.subscription"),
        # selected
        ("You have been randomly selected to receive a hamper", "content.selected"),
        ("As a valued subscriber you qualify for an upgrade", "content.selected"),
        ("U are now eligible for a free handset", "content.selected"),
        # urgency and account scares
        ("Your card has been temporarily suspended", "content.urgency"),
        ("Please verify your billing details today", "content.urgency"),
        ("Final reminder before we close the file", "content.urgency"),
        ("URGENT - respond today", "content.urgency"),
        # money with a call to action
        ("Borrow $2,500 today. Apply online in minutes", "content.money_cta"),
        ("£400 a week is possible, here's how", "content.money_cta"),
        ("You could be owed a refund of £3,000", "content.money"),
        # a keyword to reply with
        ("Reply PLAY for your next clue", "content.keyword_reply"),
        # video self-promotion and follow-for-follow
        ("pls sub to me, trying to get 100 subs", "content.self_promo"),
        ("f4f? I follow everyone back", "content.self_promo"),
        ("We just released our debut EP, have a listen", "content.self_promo"),
        ("Add me on snapchat for more", "content.self_promo"),
        ("Use code SPRING for 30% off", "content.commercial"),
        ("free vbucks no survey needed", "content.commercial"),
        ("I earn $120 a day online", "content.money"),
    ],
)
def test_family_fires_on_its_pitch(text: str, code: str) -> None:
    assert code in _codes(text)


@pytest.mark.parametrize(
    "text",
    [
        # people talk about prizes
        "She won the Pulitzer prize for that series.",
        "We won 2-0, what a night",
        "you won't believe who I saw at the station",
        "My uncle won £40 on a scratch card lol",
        "The prize fund for the marathon is tiny.",
        "Congrats on the baby!!",
        # and share numbers
        "The helpline is 0800 555 0199 if you need it.",
        "My new number is 07700 900 461",
        "Ring the office on 0161 496 0000 after nine",
        "The 0900 bus never comes on time",
        # and ask to call, text and reply
        "Call me when you get this",
        "I'll text you the address later",
        "Reply when you can, no rush",
        "Can you call mum to collect the kids?",
        "Send it to 2015's folder please",
        # and talk about subscriptions, being chosen, claims and urgency
        "I cancelled the subscription, it went up £3 a month",
        "Reply STOP never works with those texts",
        "Our choir was selected for the regional final!",
        "I got picked for jury duty again",
        "They claim the bridge is safe.",
        "You can claim travel costs back from the council",
        "My bank account was frozen for a week, nightmare",
        "Urgent care waits are getting longer in our town.",
        "We must act now on housing.",
        "Please verify the facts before sharing",
        "The deadline is within 48 hours, get your entries in",
        # and money
        "I owe you £20 for the tickets",
        "The council spent $3m on the new roundabout.",
        "Paid £12 for parking, call that fair?",
        # and under videos
        "subscribed to her years ago, never looked back",
        "the remix on the official channel is even better",
        "like if you're watching in 2015",
        "My band played this at our wedding",
    ],
)
def test_people_talking_raise_no_strong_signal(text: str) -> None:
    assert _strong(text) == []


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("omg https://youtu.be/xYz123abcde", True),
        ("watch this http://www.fun-clips.example.net/", True),
        ("Source: https://www.bbc.co.uk/news/science", False),
        ("Here is the report they mention: https://www.gov.uk/guidance", False),
        ("lol look at this https://example.org/a and tell me what you think about it", False),
    ],
)
def test_link_lure_needs_few_words_that_urge(text: str, fires: bool) -> None:
    assert ("content.link_lure" in _codes(text, has_links=True)) is fires


def test_keyword_in_capitals_only_counts_when_the_text_is_not_shouted() -> None:
    assert "content.keyword_reply" in _codes("Reply WIN for your chance")
    assert "content.keyword_reply" not in _codes("REPLY WHEN YOU CAN")


def _top_level_branches_name_a_trigger() -> list[tuple[str, str]]:
    missing = []
    for r in RULES:
        for branch in r.branches:
            literal = re.sub(r"\\[a-zA-Z]", " ", branch)  # \s, \b, \d are not letters of a word
            named = any(t in literal for t in r.triggers if t != DIGITS)
            named = named or (DIGITS in r.triggers and "\\d" in branch)
            if not named:
                missing.append((r.code, branch))
    return missing


def test_every_branch_names_one_of_its_rule_triggers() -> None:
    # The guard skips a rule when none of its trigger words is in the text: a branch without a
    # trigger could never fire on text that lacks the others.
    assert _top_level_branches_name_a_trigger() == []


def test_the_guards_never_hide_a_match() -> None:
    # Rule triggers skip a rule, first words skip branches: on every corpus the guarded hits
    # equal what the full patterns find.
    texts = [r.text for r in labelled_corpus(1500, seed=1)]
    texts += [r.text for r in message_corpus(1500, seed=1, split="dev")]
    texts += [r.text for r in message_corpus(1500, seed=2, split="test")]
    texts += [r.text for r in video_corpus(1500, seed=1, split="dev")]
    texts += [r.text for r in video_corpus(1500, seed=2, split="test")]
    differ = []
    for text in texts:
        low = prepare(text).lower()
        keys = text_keys(low, _WORDS.findall(low))
        active = active_branches(keys)
        for index, r in enumerate(RULES):
            full = sorted({" ".join(m.group(0).split()) for m in r.pattern.finditer(low)})
            run = index in active and not r.triggers.isdisjoint(keys)
            guarded = r.hits(low, active[index]) if run else []
            if full != guarded:
                differ.append((r.code, text, full, guarded))
    assert differ == []


@pytest.mark.parametrize(
    "text",
    [
        "check out my channel and check out my new song",  # two branches start together
        "subscribe to my channel, sub4sub, sub 4 sub",  # a later match inside an earlier one's span
        "you have won a £500 voucher! call 09061701461 to claim, txt win to 80086",
        "",
    ],
)
def test_hits_merge_the_branches_as_their_alternation_would(text: str) -> None:
    # Branches are searched one by one; the merged matches must be the alternation's.
    for r in RULES:
        full = sorted({" ".join(m.group(0).split()) for m in r.pattern.finditer(text)})
        assert r.hits(text, tuple(range(len(r.branches)))) == full, r.code


def test_no_branch_matches_the_empty_string() -> None:
    # Merging moves on from each match's end: an empty match would stall it.
    assert [b for r in RULES for b in r.branches if re.fullmatch(f"(?:{b})", "")] == []


@pytest.mark.parametrize(
    ("branch", "words"),
    [
        (r"check\s*(?:out\s+)?(?:my|our)", {"chec"}),
        (r"(?:my|our)\s+band", {"my", "our"}),
        (r"sub\s*(?:4|for|2)\s*sub", None),  # "sub4sub" is one token: "sub" says nothing
        (r"ring\s?tones?|polyphonic", {"ring", "poly"}),
        (r"tones?\s*\+", {"tone"}),
        (r"(?:free\s+)?robux", None),  # the match may start at "robux"
        (r"\d+\s?%\s+off", {"0"}),  # any word that starts with a digit
        (r"(?<![^\n])urgent\s*!", {"urge"}),  # a lookbehind consumes nothing
        (r"po\s?box", None),  # "pobox" or "po box": the first word is not known
        (r"(?:pm|e-mail)\s+me", {"pm", "e"}),
        (r"kik\b|viber", {"kik", "vibe"}),
    ],
)
def test_first_words_are_read_from_the_regex(branch: str, words: set[str] | None) -> None:
    assert first_words(branch) == (None if words is None else frozenset(words))
