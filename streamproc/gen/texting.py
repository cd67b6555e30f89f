"""How people and spammers bend text on phones and under videos: text-speak, case, emoji,
dropped letters, so that generated corpora are not one clean template.

Used by the message-style and video-comment generators (gen/messages.py, gen/video.py); both
spam and ordinary text go through the same mangling, so style alone does not give a label away.
"""

from __future__ import annotations

import random
import re

# Whole-word swaps typed on phones by everyone (ordinary people more than anyone).
TEXT_SPEAK = {
    "you": "u",
    "your": "ur",
    "you're": "ur",
    "are": "r",
    "to": "2",
    "for": "4",
    "please": "pls",
    "text": "txt",
    "message": "msg",
    "tomorrow": "tmrw",
    "tonight": "2nite",
    "before": "b4",
    "great": "gr8",
    "thanks": "thx",
    "because": "cos",
    "with": "wiv",
    "later": "l8r",
    "week": "wk",
    "people": "ppl",
    "really": "rly",
    "what": "wat",
    "know": "kno",
}
EMOJI = ["😂", "❤️", "🔥", "👍", "😍", "🙏", "😭", "💯", "👌", "😊"]
_WORD = re.compile(r"[A-Za-z']+")


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def text_speak(rng: random.Random, text: str, rate: float) -> str:
    """Swap words for their texting forms with probability `rate` each."""

    def swap(m: re.Match[str]) -> str:
        word = m.group(0)
        short = TEXT_SPEAK.get(word.lower())
        if short is None or rng.random() >= rate:
            return word
        return short.upper() if word.isupper() and len(word) > 1 else short

    return _WORD.sub(swap, text)


def mangle(rng: random.Random, text: str, *, speak: float = 0.0, shout: float = 0.05) -> str:
    """Case, punctuation, emoji, a dropped letter, and text-speak at rate `speak`."""
    if speak:
        text = text_speak(rng, text, speak)
    r = rng.random()
    if r < shout:
        text = text.upper()
    elif r < shout + 0.15:
        text = text.lower()
    r = rng.random()
    if r < 0.08:
        text = text.rstrip(".!") + rng.choice(["!!!", "!!", "...", "??", "!"])
    elif r < 0.16:
        text = text.rstrip(".") + " " + rng.choice(EMOJI) * rng.randint(1, 3)
    if rng.random() < 0.05 and len(text) > 20:
        i = rng.randrange(1, len(text) - 1)
        if text[i].isalpha():
            text = text[:i] + text[i + 1 :]
    return text
