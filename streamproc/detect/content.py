"""Content signals of the spam stage: what a comment says and how it is written.

Each rule is a family of spam phrasing (self-promotion, prize notices, premium-rate numbers…)
with a reason code, a human label and a rule weight. Patterns are written the way spam phrases
things, not the way people talk about the same subjects: "you have won a £500 voucher" fires,
"she won the Booker prize" does not; "txt WIN to 80086" fires, "text me when you land" does not.
The unit tests hold both lists for every family.

Speed: a rule only runs when the comment contains one of its trigger words (compared by their
first four letters, so "subscribe", "subscribers" and "subs" share one key), and then only
with the branches whose first word is in the comment: each branch's possible first words are
read from its regex source once, at import. A branch can only match starting with its first
word, so this never hides a match; tests check both guards against the full patterns on the
corpora. Each branch is compiled on its own at import and the active ones are searched one by
one, their matches merged the way one alternation of them would pick (compiling an alternation
per combination of branches cost more than all the searching, and the combinations are many);
a branch's pattern starts with its first word, so the regex engine jumps to where it occurs.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator
from dataclasses import dataclass

from streamproc.detect.signal import Signal

DIGITS = "#"  # trigger key present when the text has a run of three or more digits
_DIGIT_RUN = re.compile(r"\d{3}")
_WORD = re.compile(r"[^\W_]+")
KEY_LEN = 4


DIGIT_START = "0"  # key of every word that starts with a digit
CURRENCY = "£"  # key of every currency sign
PLUS = "+"  # key of every plus sign (international numbers)
_ANY_DIGIT = re.compile(r"\d")


_KEY = operator.itemgetter(slice(0, KEY_LEN))


def text_keys(low: str, words: list[str]) -> set[str]:
    """The keys of lower-cased text with words `words`: each word's first four letters, and
    DIGIT_START, CURRENCY, PLUS and DIGITS when the text may hold what they stand for (a key
    too many only means a branch tried in vain)."""
    keys = set(map(_KEY, words))
    if _ANY_DIGIT.search(low):
        keys.add(DIGIT_START)
        if _DIGIT_RUN.search(low):
            keys.add(DIGITS)
    if "£" in low or "$" in low or "€" in low:
        keys.add(CURRENCY)
    if "+" in low:
        keys.add(PLUS)
    return keys


@dataclass(slots=True, frozen=True)
class Rule:
    r"""One family of spam phrasing. `branches` are alternatives of one regex over lower-cased
    text; every match of a branch contains a word whose key is in `triggers`, and starts with
    a word whose key is in `starts[i]` (None: not readable from the source, always tried).
    `compiled[i]` is branch i alone, without the leading (?<!\w) (see _search)."""

    code: str
    label: str
    weight: float
    triggers: frozenset[str]
    branches: tuple[str, ...]
    starts: tuple[frozenset[str] | None, ...]
    compiled: tuple[re.Pattern[str], ...]

    @property
    def pattern(self) -> re.Pattern[str]:
        """The whole alternation: what hits must agree with (tests; `re` caches it)."""
        return _compile(list(self.branches), list(self.starts))

    def hits(self, low: str, active: tuple[int, ...]) -> list[str]:
        """Distinct matches of the `active` branches in lower-cased `low`, spaces squashed.

        The same matches as their alternation's finditer: from where the last match ended, the
        match that starts first, and of those starting together the earliest branch's. A
        branch's pending match stays its next one while it starts at or after the last end."""
        found = [(m, p) for i in active if (m := _search(p := self.compiled[i], low, 0)) is not None]
        out: set[str] = set()
        while found:
            m = min(found, key=_start)[0]  # min keeps the first of equal starts: branch order
            out.add(" ".join(m.group(0).split()))
            end = m.end()  # no branch matches the empty string, so this moves on
            found = [
                (n, p) for f, p in found if (n := f if f.start() >= end else _search(p, low, end)) is not None
            ]
        return sorted(out)

    def active(self, keys: set[str]) -> tuple[int, ...]:
        """The branches that can match text with these keys (all of them: for tests)."""
        return tuple(i for i, k in enumerate(self.starts) if k is None or not k.isdisjoint(keys))


def _start(found: tuple[re.Match[str], re.Pattern[str]]) -> int:
    return found[0].start()


_WORD_CHAR = re.compile(r"\w")


def _search(pattern: re.Pattern[str], low: str, pos: int) -> re.Match[str] | None:
    r"""The first match of a branch pattern from `pos` that is not glued to a word before.

    The branch patterns leave the (?<!\w) out and it is checked here: a pattern that starts with
    its first word lets the regex engine jump to where that word occurs (a third faster)."""
    while (m := pattern.search(low, pos)) is not None:
        start = m.start()
        if not start or _WORD_CHAR.match(low, start - 1) is None:
            return m
        pos = start + 1
    return None


def _compile(branches: list[str], starts: list[frozenset[str] | None]) -> re.Pattern[str]:
    # The alternation of `branches` as the rule means it. Whole words at both ends: "seo" is
    # not the start of "seond", "ep" not of "episode". The leading (?<!\w) keeps the regex
    # engine from skipping ahead to a possible first letter, so when every branch's first
    # letters are known they are named in a lookahead first.
    head = ""
    if starts and all(k is not None for k in starts):
        firsts = {w[0] for k in starts if k is not None for w in k}
        if DIGIT_START in firsts:
            firsts = (firsts - {DIGIT_START}) | set("0123456789")
        head = "(?=[" + re.escape("".join(sorted(firsts))) + "])"
    # Not glued to a word before: \b for branches that start with a letter, and for those that
    # start with a sign ("£5") the same intent (\b before "£" would demand a letter before it).
    return re.compile(head + r"(?<!\w)(?:" + "|".join(branches) + r")(?!\w)")


def rule(code: str, label: str, weight: float, triggers: str, branches: list[str]) -> Rule:
    keys = frozenset(t if t == DIGITS else t[:KEY_LEN] for t in triggers.split())
    starts = tuple(first_words(b) for b in branches)
    alone = tuple(re.compile(rf"(?:{b})(?!\w)") for b in branches)
    return Rule(code, label, weight, keys, tuple(branches), starts, alone)


# --- first words of a branch, read from its regex source ---------------------------------------
_LITERAL = re.compile(r"[a-z0-9]+")
_QUANTIFIERS = ("?", "*", "{")
# What may follow a short first word so that the word is a whole token: "my\s+" is the token
# "my"; "sub\s*4" may be the token "sub4", so "sub" alone says nothing.
_WORD_ENDS = (r"\s+", r"\b", r"(?!\w)")
_END_CHARS = "'-/:!.&@,?%+"


def _ends_word(rest: str) -> bool:
    """Whether regex `rest` can only begin with something that ends a word."""
    if rest == "" or rest.startswith(_WORD_ENDS):
        return True
    if rest.startswith((r"\s", r"\W")) or (rest[:1] == "\\" and rest[1:2] in _END_CHARS):
        return rest[2:3] not in _QUANTIFIERS
    if rest[:1] in _END_CHARS:
        return rest[1:2] not in _QUANTIFIERS
    if rest.startswith("(?:"):
        end = _group_end(rest)
        after = rest[end + 1 :]
        optional = after.startswith(("?", "*"))
        if optional:
            after = after[1:]
        elif after.startswith("{"):
            return False
        ok = all(_ends_word(alt + after) for alt in _top_level(rest[3:end]))
        return ok and (not optional or _ends_word(after))
    return False


def _structure(src: str) -> Iterator[tuple[int, str, int]]:
    """(index, character, group depth after it) for each character of the pattern `src` that is
    outside escapes and character classes."""
    depth, i = 0, 0
    while i < len(src):
        c = src[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = src.index("]", i + 1) + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        yield i, c, depth
        i += 1


def _top_level(src: str, sep: str = "|") -> list[str]:
    parts, start = [], 0
    for i, c, depth in _structure(src):
        if c == sep and depth == 0:
            parts.append(src[start:i])
            start = i + 1
    parts.append(src[start:])
    return parts


def _group_end(src: str) -> int:
    """Index of the parenthesis closing the group that opens `src`."""
    for i, c, depth in _structure(src):
        if c == ")" and depth == 0:
            return i
    raise ValueError(f"unbalanced group in {src!r}")


def first_words(src: str) -> frozenset[str] | None:
    """Keys of the words every match of regex `src` can start with, or None when the source
    does not say (a digit, a symbol, an optional first word…)."""
    alternatives = _top_level(src)
    if len(alternatives) > 1:
        keys: set[str] = set()
        for alt in alternatives:
            k = first_words(alt)
            if k is None:
                return None
            keys |= k
        return frozenset(keys)
    src = src.removeprefix(r"\b")
    if src.startswith(("(?<!", "(?<=")):  # consumes nothing: the first word comes after it
        src = src[_group_end(src) + 1 :]
    if src.startswith(r"\+"):
        return frozenset({PLUS})
    if src.startswith("(?:"):
        end = _group_end(src)
        rest = src[end + 1 :]
        if rest.startswith(_QUANTIFIERS):
            return None  # an optional group: the match may start after it
        keys = set()
        for alt in _top_level(src[3:end]):
            k = first_words(alt + rest)
            if k is None:
                return None
            keys |= k
        return frozenset(keys)
    if src.startswith(r"\d"):
        return frozenset({DIGIT_START})
    if src.startswith("[£$€]"):
        return frozenset({CURRENCY})
    m = _LITERAL.match(src)
    if m is None:
        return None
    if m.group(0)[0].isdigit():
        return frozenset({DIGIT_START})
    word, rest = m.group(0), src[m.end() :]
    if rest.startswith(_QUANTIFIERS):  # the last letter is optional
        word, rest = word[:-1], ""
    if len(word) >= KEY_LEN:
        return frozenset({word[:KEY_LEN]})
    if word and _ends_word(rest):  # at the branch's end, patterns end on a word boundary
        return frozenset({word})
    return None


# Words that stand for "you" in spam and in texting.
_YOU = r"(?:you|u|ya)"
_YOUR = r"(?:your|ur|yr)"
_TO = r"(?:to|2)"
_AMOUNT_RE = r"(?:[£$€]\s?\d[\d,.]*k?|\d[\d,.]*\s?(?:pounds|dollars|euros|quid|usd|gbp))"
_PRIZE_THING = (
    r"(?:prize|award|reward|voucher|holiday|trip|cruise|gift\s*card|gift|bonus|cash|jackpot|tickets?"
    r"|phone|smartphone|laptop|tablet|ipad|iphone|console|camera|car|break)s?"
)
# A keyword-to-short-code instruction: "txt WIN to 80086", "send STOP 2 69988", "sms GO to 8888".
# Not "send it to 2015's folder": the keyword is no pronoun and the code no year.
_SHORT_CODE = (
    r"(?:text|txt|send|sms|msg)\s+(?:the\s+word:?\s+)?(?!(?:it|me|them|him|her|this|that|us)\b)\W?[a-z0-9]{1,12}\W?"
    r"\s+(?:to|2)\s+(?:no:?\s*)?(?!(?:19|20)\d\d\b)\d{4,6}\b"
)
# Premium-rate and shared-cost numbers (UK 09/087/084, North American 1-900), as written.
# Eleven digits however they are grouped; "the 0900 bus" is not one.
_PREMIUM_NUMBER = r"(?:09|08[47])(?:[\s-]?\d){8,9}(?!\d)|1[\s-]?900[\s-]?\d{3}[\s-]?\d{4}\b"

RULES: tuple[Rule, ...] = (
    rule(
        "content.self_promo",
        "self-promotion",
        0.5,
        "check checkout visit go my subscribe sub sub4 sub2 subs follow please plz pls like give thumbs"
        " reach hit get new small upcoming aspiring support see view listen help f4f l4l add i we will band"
        " group",
        # Phrased as spam phrases it, not as people talk: "this is my song" and "support our
        # troops" are ordinary comments, "my new song" and "support my channel" are not.
        [
            r"check\s*(?:out\s+)?(?:my|our)",
            r"checkout\s+my",
            r"visit\s+(?:my|our)",
            r"go\s+to\s+my",
            r"my\s+(?:youtube\s+|new\s+|little\s+)?channel",
            r"subscribe\s+(?:to\s+)?(?:me|my|our|us)\b",
            r"sub\s+(?:4|for|2)\s*sub|sub4\s*sub|subfor\s*sub|sub2\s*sub",
            r"sub4sub|sub2sub|f4f|l4l",
            r"sub\s+(?:to\s+me|back|2\s+me|to\s+my)",
            r"follow\s+(?:me|us)\s+on",
            r"follow\s*(?:4|for)\s*follow|follow\s+back",
            r"(?:i|i'll|ill|will)\s+(?:sub|subscribe|follow)\s+(?:back|(?:to\s+)?(?:everyone|anyone|every1|all))",
            r"(?:add|follow)\s+me\s+on\s+(?:insta(?:gram)?|twitter|snap(?:chat)?|facebook|fb|tiktok|kik)",
            r"(?:follow|add)\s+@\w+",
            r"my\s+(?:blog|website|site|web\s+page|page|shop|store|mixtape|soundcloud|insta(?:gram)?|twitter|snap(?:chat)?|ig|tiktok)\b",
            r"my\s+new\s+(?:song|video|music|mixtape|album|track|cover|single|vlog)",
            r"(?:please|plz|pls)\s+(?:like|share|subscribe|support|sub\b)",
            r"(?:please|plz|pls)\s+(?:check|watch|listen\s+to|visit|view)\s+(?:out\s+)?(?:my|our)",
            r"like\s+(?:and|&)\s+(?:share|subscribe)",
            r"subscribe\s*(?:!|now|please|pls|plz)",
            r"give\s+(?:me|us|my\s+\w+)\s+a\s+(?:like|thumbs\s+up|chance|listen|watch|try|view)",
            r"give\s+(?:my|our)\s+(?:new\s+)?(?:music|song|track|video|channel|mixtape|cover|remix)\s+a\s+(?:chance|listen|try|shot)",
            r"give\s+(?:it|this)\s+a\s+(?:like|thumbs\s+up)",
            r"thumbs\s+up\s+so",
            r"like\s+this\s+comment\s+(?:so|if)",
            r"check\s*(?:out\s+)?this\s+(?:new\s+)?(?:youtube\s+)?(?:video|channel|song|site|website|page|link|cover|track|playlist)",
            r"(?:reach|hit|get|get\s+to)\s+\d[\d,.]*k?\s+(?:subs|subscribers)\b",
            r"\d[\d,.]*k?\s+(?:subs|subscribers)\s+away",
            r"help\s+me\s+(?:get|reach|hit|grow)",
            r"(?:new|small|upcoming|aspiring)\s+(?:youtuber|rapper|artist|singer|channel|band)",
            r"support\s+(?:me|my\s+(?:channel|music|page|work|video))",
            r"(?:see|check|visit|view)\s+(?:out\s+)?my\s+(?:channel|page|profile|videos?|music|songs?|covers?)",
            r"(?:listen\s+to|check)\s+(?:out\s+)?(?:my|our)\s+(?:remix|cover|beats|music|mixtape|new\s+track|track|songs?)",
            r"(?:i|we)\s+(?:just\s+)?(?:released|dropped|uploaded|made)\s+(?:my|our|a)\s+(?:new\s+|first\s+|debut\s+)?(?:song|single|track|video|mixtape|album|ep|cover|remix)",
            r"(?:my|our)\s+(?:band|group)\s+(?:just\s+)?(?:released|dropped|uploaded|made)",
        ],
    ),
    rule(
        "content.call_to_action",
        "call to action",
        0.4,
        "click visit link read more full sign register order buy shop download limited watch search go head",
        [
            r"click\s+(?:here|the\s+link|on\s+(?:the|this|my)\s+link|below|this\s+link|now)",
            r"visit\s+(?:this|the)\s+(?:site|website|page|link)",
            r"link\s+(?:in|on)\s+(?:my\s+)?(?:bio|profile|description|page)",
            r"read\s+more\s+(?:at|here)",
            r"(?:more|full)\s+(?:info|information|details)\s+(?:at|here)",
            r"sign\s+up\s+(?:now|here|today|free)",
            r"register\s+(?:now|here|today)",
            r"order\s+(?:now|today)",
            r"buy\s+now|shop\s+now",
            r"download\s+(?:now|free|here)",
            r"limited\s+(?:time\s+)?offer",
            r"watch\s+free\b",
            r"search\s+\S+\s+on\s+(?:google|youtube)",
            r"visit\s+(?:https?://|www\.)\S+",
            r"(?:go|head)\s+to\s+(?:https?://|www\.)\S+",
        ],
    ),
    rule(
        "content.money",
        "easy money, income or crypto",
        0.4,
        # Not "prize" or "won a" alone: news readers discuss Nobel prizes and won matches.
        "make makes made earn earns earned earning making home work working free win won gift bitcoin"
        " crypto forex binary invest investment guaranteed passive loan loans payday instant casino"
        " jackpot paid quit could may might owed",
        [
            r"(?:make|earn|earning|making)\s+(?:easy\s+|extra\s+|real\s+)?(?:money|cash|income|[£$€]\s?\d[\d,.]*k?)",
            r"(?:make|makes|made|earn|earns|earned|making|earning)\s+(?:up\s+to\s+|over\s+)?[£$€]\s?\d[\d,.]*k?\s+(?:a|an|per|every)\s+(?:day|hour|week|month)",
            r"(?:per|a|every)\s+(?:day|week|hour)\s+(?:from|at|working)\s+home",
            r"work(?:ing)?\s+from\s+home",
            r"(?:free|win\s+a|won\s+a|win\s+an|won\s+an)\s+(?:new\s+)?(?:gift\s*cards?|iphone|ipad|laptop|money|cash|bitcoin|followers|vacation|trip)",
            r"gift\s*cards?",
            r"casino|jackpot",
            r"(?:bitcoin|crypto|forex|binary\s+options?)\s+(?:trading|investment|profit|mining|platform|signals)",
            r"invest(?:ment)?\s+(?:platform|opportunity|manager|plan)",
            r"guaranteed\s+(?:profit|income|returns?)",
            r"passive\s+income",
            r"loans?\s+(?:fast|online|approved|offer)",
            r"(?:payday|instant)\s+loans?",
            r"get\s+paid\s+(?:to|2|for)\s+(?:watch|play|tak|answer|do)",
            r"(?:you|u)\s+(?:could|may|might)\s+be\s+(?:owed|entitled\s+(?:to|2)\s+(?:a\s+)?(?:refund|rebate|payout|compensation|[£$€]))",
            r"owed\s+(?:up\s+(?:to|2)\s+)?[£$€]\s?\d[\d,.]*",
            r"paid\s+surveys?",
            r"quit\s+my\s+job\s+and",
            r"(?:earn|make)\s+(?:cash|money|\$)\s+(?:online|from\s+home|from\s+your\s+phone)",
        ],
    ),
    rule(
        "content.contact",
        "contact details",
        0.35,
        "whatsapp whats telegram wickr kik viber dm inbox contact text message call now today #",
        [
            r"whats\s?app\b|telegram\b|wickr\b|kik\b|viber\b",
            r"(?:dm|inbox)\s+(?:me|us)\b",
            r"(?:call|contact|text|message)\s+us\b",
            r"call\s+(?:now|today)\b",
            # Phone numbers; the DIGITS trigger keeps texts without a digit run from paying.
            r"\+\d{1,3}[\s.-]?\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b|\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b|\+\d{9,14}\b",
        ],
    ),
    rule(
        "content.contact_me",
        "asks to be contacted",
        0.2,  # "call me", "text me": friends say it all day; it counts with other evidence
        "text email e-mail mail contact message add call pm",
        [r"(?:pm|text|email|e-mail|contact|message|add|call)\s+me\b"],
    ),
    rule(
        "content.seo",
        "SEO phrasing",
        0.2,  # people praise articles too; it counts with a link or a second phrase
        "nice great good awesome informative useful helpful wonderful thanks thank keep blog website"
        " visited bookmarked followed best seo backlink site",
        [
            r"(?:nice|great|good|awesome|informative|useful|helpful|wonderful)\s+(?:blog|post|article|site|website|information|info|content)(?:\s+(?:post|article|site))?",
            r"thanks?\s+(?:you\s+)?for\s+(?:sharing|this\s+(?:post|article|info))",
            r"keep\s+(?:it\s+up|posting|sharing|blogging)",
            r"(?:your|this)\s+(?:blog|website)\s+(?:is|was)",
            r"i\s+(?:have\s+)?(?:just\s+)?(?:visited|bookmarked|followed)\s+(?:your|this)",
            r"best\s+\w+\s+(?:services?|reviews?|deals?|company|online|prices?)",
            r"seo|backlinks?",
            r"(?:find|get|see)\s+(?:the\s+)?best\s+\w+",
            r"(?:more|visitors?|traffic)\s+to\s+your\s+(?:site|website|blog)",
        ],
    ),
    rule(
        "content.commercial",
        "commercial spam vocabulary",
        0.45,
        # Not "pills" or "pharmacy" alone: health threads mention both.
        "viagra cialis online pharmacy diet slimming enlargement cheap generic replica weight essay buy"
        " followers likes views subscribers sale free real discount promo coupon voucher code price off"
        " credit prescription survey approval lowest giveaway robux bucks generator psn xbox steam itunes"
        " amazon gift codes keys vouchers iphone",
        [
            r"viagra|cialis|online\s+pharmacy|pharmacy\s+online",
            r"(?:diet|slimming|enlargement|cheap|generic)\s+pills?",
            r"replica\s+(?:watches|bags|handbags|rolex)",
            r"weight\s+loss\s+(?:pills|supplements?|products?)",
            r"essay\s+writing",
            r"buy\s+(?:cheap|followers|likes|views|subscribers)",
            r"cheap\s+\w+\s+(?:online|for\s+sale)",
            r"(?:followers|likes|views|subscribers)\s+(?:fast|cheap|instantly)",
            r"for\s+sale\s+online",
            r"(?:free|real)\s+(?:instagram\s+|youtube\s+|twitter\s+)?(?:followers|subscribers|likes|views)",
            r"(?:discount|promo|coupon|voucher)\s+code",
            r"use\s+(?:my\s+)?(?:promo\s+)?code\s+\w+",
            r"best\s+price",
            r"\d+\s?%\s+off",
            r"free\s+(?:shipping|installation|delivery|worldwide\s+shipping)",
            r"no\s+(?:credit\s+check|prescription|survey)",
            r"approval\s+in\s+\d+",
            r"lowest\s+prices?",
            r"giveaway",
            r"robux|v-bucks|vbucks",
            r"free\s+(?:psn|xbox|steam|itunes|amazon|google\s+play)",
            r"(?:psn|xbox|steam|itunes|amazon)\s+(?:codes?|keys?|vouchers?)\s+(?:for\s+)?free",
            r"(?:code|money|followers|likes|robux)\s+generator",
            r"(?:gift\s*cards?|followers|likes|views|subscribers|codes|keys|vouchers|iphone\s?\d*)\s+(?:for\s+free|free\b)",
        ],
    ),
    # --- message-style families: spam that needs no link ----------------------------------------
    rule(
        "content.prize",
        "prize or winnings notice",
        0.45,
        "you u ya your ur yr winner congratulations congrats guaranteed complimentary draw prize award"
        " reward voucher gift bonus payout cash mystery entry lucky",
        [
            # Addressed to the reader, with something to collect: "you have won a £500 voucher",
            # not "you won the argument" or "you won't believe".
            rf"(?:{_YOU}|{_YOUR}\s+(?:mobile|number|no\.?|phone|entry|ticket|email))(?:'ve|\s+have|\s+has|\s+r|\s+are|\s+just)?\s+(?:just\s+)?(?:won|been\s+awarded|been\s+given|win)\s+(?:(?:a|an|our|this\s+week'?s|the|\d+)\s+)?(?:\w+\s+){{0,3}}(?:{_AMOUNT_RE}|{_PRIZE_THING})",
            rf"(?:{_YOU}(?:'re|\s+are|\s+r)|{_YOU}r|ur)\s+(?:a|the|our|today'?s|this\s+week'?s)\s+(?:lucky\s+|latest\s+|prize\s+)?winner",
            r"winner\s*!",
            rf"congrat(?:ulation)?s\s*!?\s*(?:{_YOU}|{_YOUR})\b",
            rf"(?:guaranteed|complimentary)\s+(?:a\s+)?(?:{_AMOUNT_RE}|{_PRIZE_THING}|\d)",
            r"(?:weekly|monthly|prize|cash|lucky|free)\s+(?:prize\s+)?draw",
            rf"(?:a|an|the|this|your|ur)\s+{_AMOUNT_RE}\s+(?:cash\s+)?(?:prize|award|reward|voucher|gift\s*card|bonus|payout)",
            rf"(?:cash|mystery)\s+prize|prize\s+(?:code|reward)|{_AMOUNT_RE}\s+(?:cash\s+)?(?:prize|award)\s+(?:is|are)\s+(?:yours|waiting)",
            r"free\s+entry\s+(?:in|into|to)\s+(?:a|our|the)\s+(?:\w+\s+)?(?:draw|comp|competition|prize)",
            r"lucky\s+(?:day|winner|number|customer|you\b)",
        ],
    ),
    rule(
        "content.premium_number",
        "premium-rate number or short code",
        0.45,
        "text txt send sms msg #",
        [_SHORT_CODE, _PREMIUM_NUMBER],
    ),
    rule(
        "content.premium_service",
        "chat line, adult or quiz service",
        0.35,
        "live local girls singles babes ladies women hot psychic love horoscope quiz trivia",
        [
            r"live\s+(?:operator|chat|girls|babes|psychic)",
            r"(?:girls|singles|babes|ladies|women)\s+(?:are\s+)?(?:waiting|near\s+(?:you|u)|in\s+(?:your|ur)\s+area)",
            r"hot\s+(?:chat|gossip|singles|babes|girls|live)",
            r"(?:psychic|love|tarot)\s+readings?",
            r"(?:horoscope|quiz|trivia)\s+(?:\S+\s+){0,3}?(?:txt|text|call|reply|send|sms|win)\b",
            r"(?:quiz|trivia)\s*(?:time)?\s*!",
        ],
    ),
    rule(
        "content.small_print",
        "premium-rate small print",
        0.3,
        # People do not quote tariffs, T&Cs or opt-out codes in conversation.
        "std t tc ts network msg message min minute txt text call calls data opt unsub sae box reply stop"
        " 18 16",
        [
            r"\d+\s?p\s?(?:/|per\s*)\s?(?:min|minute|msg|message|txt|text|call)\b",
            r"[£$€]\d+(?:\.\d\d)?\s?(?:/|per\s*)\s?(?:msg|message|txt|text|min|minute|call)\b",
            r"std\s+(?:txt|text|msg|network|call)?\s*(?:rates?|chgs?|charges)",
            r"(?:msg|message|text)(?:\s+(?:&|and)|&)\s*data\s+rates",
            r"network\s+(?:charges|operator\s+charges)",
            r"calls?\s+cost\s+\d+",
            r"t&cs?\b|t\s&\s?cs?\b|ts\s&\s?cs\b|ts&\s?cs\b|t&c's",
            r"(?:opt\s+out|opt-out|optout|unsub|unsubscribe)\s+(?:reply|txt|text|send|sms)",
            r"(?:reply|txt|text|send|sms)\s+stop\s+(?:to|2)\s+\d+",
            r"stop\s+(?:to|2)\s+\d{4,6}",
            r"unsub\s+txt",
            r"sae\s+for",
            r"p\.o\.\s?box\s?\d+|po\s+box\s?\d+|pobox\s?\d+",
            r"(?:1[68])\s?\+\s+only|only\s+(?:1[68])\s?\+|\b1[68]\s?\+\s*(?:only|t&c|ts|\.|$)",
        ],
    ),
    rule(
        "content.claim",
        "call, text or reply to claim",
        0.4,
        "call ring dial phone text txt sms send reply claim collect redeem receive ready waiting unclaimed"
        " held",
        [
            # The instruction and the collecting in one breath; "call me to collect the kids" is
            # a person, so the one who calls must not be "me".
            r"(?:call|ring|dial|phone|text|txt|sms|send|reply)\s+(?!me\b|him\b|her\b|them\b)(?:\S+\s+){0,4}?(?:to|2|and)\s+(?:claim|collect|redeem|receive|activate|get\s+(?:it|yours|ur|your))\b(?!\s+(?:the|my|his|her|our|their)\b)",
            r"(?:to|2)\s+(?:claim|collect|redeem|receive)\s*,?\s+(?:\S+\s+){0,3}?(?:call|ring|dial|text|txt|sms|send|reply)\b",
            r"claim\s+(?:code|no|number|ref|now|it\s+now|today)\b",
            r"(?:ready|waiting)\s+(?:to|2|for\s+you\s+to)\s+(?:be\s+)?(?:collect|claim|redeem|pick)\w*",
            r"unclaimed\s+\w+",
            r"(?:held|waiting)\s+(?:in|under)\s+(?:your|ur)\s+name",
            r"(?:claim|collect)\s+(?:your|ur)\s+(?:\w+\s+)?(?:prize|reward|award|voucher|bonus|gift|cash|winnings|tickets?)",
        ],
    ),
    rule(
        "content.subscription",
        "subscription or ringtone offer",
        0.35,
        "ringtone tone tones polyphonic wallpaper charged subscribed subscription subscribing joining"
        " membership club free weekly daily",
        [
            r"ring\s?tones?|polyphonic|(?:free|real|hot|new)\s+tones?\b|tones?\s*(?:\+|and|&)\s*wallpapers?|wallpapers?\s*(?:\+|and|&)\s*tones?",
            r"(?:will\s+be|are\s+being|now\s+be|being|be)\s+charged\s+(?:\S+\s+){0,2}?(?:[£$€]?\d|\d+p)",
            r"(?:subscri(?:bed|ption)|member(?:ship)?|club)\s+(?:\S+\s+){0,4}?(?:[£$€]\d[\d.]*|\d+p)\s?(?:/|per\s*|a\s+)\s?(?:wk|week|month|mth|day|msg)",
            r"(?:you|u)\s+(?:are|r)\s+(?:now\s+)?subscribed\s+(?:to|2)",
            r"(?:thanks|thx|thank\s+you)\s+(?:4|for)\s+(?:subscribing|joining|your\s+subscription)",
            r"(?:you|u)\s+(?:will|wil|'ll)\s+(?:now\s+)?be\s+charged",
            r"free\s+(?:for\s+)?(?:1|one|a)\s+(?:week|wk|month)\s*,?\s*then",
            r"\d+\s+free\s+(?:games|tones|texts|videos|clips)\s+(?:every|each|a)\s+(?:week|wk|day)",
            r"(?:weekly|daily)\s+\w+\s+(?:direct\s+)?(?:to|2)\s+(?:your|ur)\s+(?:phone|mobile)",
        ],
    ),
    rule(
        "content.selected",
        "'you have been selected'",
        0.35,
        "you u ya your ur yr valued loyal lucky records had",
        [
            rf"(?:{_YOU}|{_YOUR}\s+(?:number|mobile|phone|email|account|no\.?))(?:'ve|\s+have|\s+has|\s+r|\s+are|\s+is|\s+was|\s+were)?\s+(?:been\s+)?(?:specially\s+|randomly\s+|personally\s+)?(?:selected|chosen|picked)\s+(?:to|2|for|as|in)\b",
            r"(?:valued|loyal|lucky)\s+(?:network\s+)?(?:customer|subscriber|member|user)",
            rf"{_YOU}\s+(?:are|r|may\s+be|could\s+be)\s+(?:now\s+)?(?:entitled|eligible)\s+(?:to|2|for)",
            rf"{_YOU}\s+(?:qualify|have\s+qualified)\s+(?:for|to)",
            r"our\s+records\s+show",
            r"had\s+(?:your|ur)\s+(?:mobile|phone)\s+\d+\s*(?:months|mths)",
        ],
    ),
    rule(
        "content.urgency",
        "urgency or account scare",
        0.3,
        "your ur yr verify confirm update final last expires expiring valid offer act don dont"
        " important urgent immediate action security unusual voicemail voice 2nd second 3rd third tried",
        [
            rf"{_YOUR}\s+(?:\w+\s+)?(?:account|card|sim|mobile|number|payment|subscription|parcel|package|delivery|password)\s+(?:has\s+been|have\s+been|is|was|will\s+be|has)\s+(?:\w+\s+)?(?:suspended|locked|blocked|closed|frozen|deactivated|disabled|cancelled|on\s+hold|compromised|held|restricted|expired|failed)",
            rf"(?:verify|confirm|update)\s+{_YOUR}\s+(?:\w+\s+)?(?:details|identity|account|information|info|payment|card|password|address)",
            r"(?:final|last)\s+(?:notice|warning|chance|reminder|attempt)",
            r"expir(?:es?|ing)\s+(?:today|tonight|2nite|soon|at\s+midnight|in\s+\d+|\d+)",
            r"valid\s+(?:for\s+)?(?:\d+\s*(?:hrs|hours|days)|today|until)",
            r"offer\s+ends",
            r"(?:don't|dont)\s+miss\s+out",
            r"(?:important|urgent|immediate)\s+(?:action|attention|response|information)",
            r"action\s+required",
            r"security\s+alert|unusual\s+(?:activity|sign[\s-]?in|login)",
            r"new\s+voice\s?mail",
            r"(?:2nd|second|3rd|third|final)\s+(?:time\s+)?(?:attempt|time)\s+(?:to|2|we)\s+(?:have\s+)?(?:tried\s+)?(?:to\s+|2\s+)?(?:contact|reach)",
            rf"tried\s+(?:to|2)\s+(?:contact|reach)\s+{_YOU}",
            r"(?<![^\n])urgent\s*[!:-]",  # opening the message or a line
        ],
    ),
)
# First-word key -> (rule, branch) of every branch that starts with it; branches whose first
# word is unknown are tried whenever their rule runs.
_BY_KEY: dict[str, list[tuple[int, int]]] = {}
_ALWAYS: dict[int, list[int]] = {}
for _r, _rule in enumerate(RULES):
    for _b, _starts in enumerate(_rule.starts):
        if _starts is None:
            _ALWAYS.setdefault(_r, []).append(_b)
        for _k in _starts or ():
            _BY_KEY.setdefault(_k, []).append((_r, _b))


_INDEX_KEYS = frozenset(_BY_KEY)


def active_branches(keys: set[str]) -> dict[int, tuple[int, ...]]:
    """Rule index -> its branches that can match text with these keys, in order."""
    found: dict[int, list[int]] = {r: list(b) for r, b in _ALWAYS.items()}
    for k in keys & _INDEX_KEYS:  # the intersection runs in C: most words start no branch
        for r, b in _BY_KEY[k]:
            bucket = found.get(r)
            if bucket is None:
                found[r] = [b]
            else:
                bucket.append(b)
    return {r: tuple(sorted(set(b))) for r, b in found.items()}


# Money amounts and calls to action: either alone is ordinary, together they are a pitch.
_AMOUNT = re.compile(
    r"(?=[$€£\d])(?:[$€£]\s?\d[\d,.]*\s?k?\b|\b\d[\d,.]*\s?(?:dollars|usd|euros?|bucks|pounds|quid)\b)"
)
_PITCH_CTA = re.compile(
    r"\b(?:(?:call|ring|dial)\s+(?:us\s+)?(?:now|today|free|on\s+\d|\d)"
    r"|(?:text|txt|sms|send|reply)\s+(?:(?:the\s+)?word\s+)?\W?[a-z0-9]{1,12}\W?\s+(?:to|2|now|for)\b"
    r"|reply\s+(?:yes|now|with)\b|(?:apply|order|register|sign\s+up)\s+(?:now|today|online)"
    r"|click\s+(?:here|now|the\s+link)|(?:see|look)\s+how\b|here'?s\s+how|find\s+out\s+how)"
)
# "reply VIP", "text WIN": a keyword in capitals after an instruction, in text not all shouted.
_KEYWORD_ASK = re.compile(
    r"\b(?:[Rr]eply|[Tt]e?xt|[Ss]end|[Ss]ms)\s+(?:(?:the\s+)?word:?\s+|with\s+)?[\"']?(?!STOP\b)([A-Z][A-Z0-9]{1,11})\b"
)
# A link with a few words that only urge a look ("omg <link>", "watch this <link>"): how links
# are dropped under videos. Citing a source ("Source: <link>") is not a lure.
_URLISH = re.compile(r"\S*(?:https?://|www\.|\.(?:com|net|org|be|ly|info|co)\b)\S*")
_LURE_WORDS = frozenset(
    {
        "watch",
        "look",
        "omg",
        "lol",
        "lmao",
        "wow",
        "funny",
        "must",
        "click",
        "go",
        "better",
        "hey",
        "guys",
        "plz",
        "pls",
        "please",
        "free",
    }
)
LURE_MAX_WORDS = 5
_ASK_KEYS = frozenset({"repl", "text", "txt", "send", "sms"})
_PUNCT_RUN = re.compile(r"[!?$*#@.]{4,}|[!?]{3,}")
_CHAR_RUN = re.compile(r"(\w)\1{4,}")


def content_signals(
    text: str, *, has_links: bool = False, low: str | None = None, words: list[str] | None = None
) -> list[Signal]:
    """Signals in what the comment says and how it is written; `text` is already prepared,
    `has_links` says whether the link stage found any link in it. `low` (text lower-cased) and
    `words` (its words) may be passed when the caller has them."""
    out: list[Signal] = []
    if low is None:
        low = text.lower()  # the patterns are lower case: much faster than re.IGNORECASE
    if words is None:
        words = _WORD.findall(low)
    keys = text_keys(low, words)
    branches = active_branches(keys)
    for index, r in enumerate(RULES):
        active = branches.get(index)
        if active is None or r.triggers.isdisjoint(keys):
            continue
        hits = r.hits(low, active)
        if hits:
            weight = min(0.8, r.weight + 0.15 * (len(hits) - 1))
            out.append(Signal(r.code, f"{r.label}: {', '.join(hits[:4])}", weight, hits[0]))
    # Each pattern below runs only when what it needs is there: a regex pass costs more than
    # a few membership tests.
    if not _ASK_KEYS.isdisjoint(keys) and "content.premium_number" not in {s.code for s in out}:
        ask = _KEYWORD_ASK.search(text)
        if ask and not _mostly_upper(text):
            evidence = " ".join(ask.group(0).split())
            out.append(
                Signal("content.keyword_reply", f"asks to reply with a keyword: {evidence}", 0.3, evidence)
            )
    if has_links:
        rest = _WORD.findall(_URLISH.sub(" ", low))
        if 0 < len(rest) <= LURE_MAX_WORDS and not _LURE_WORDS.isdisjoint(rest):
            out.append(
                Signal("content.link_lure", "a link with a few words urging a look", 0.4, " ".join(rest))
            )
    amount = _AMOUNT.search(low) if _ANY_DIGIT.search(low) else None
    if amount:
        cta = _PITCH_CTA.search(low)
        if cta:
            evidence = f"{amount.group(0)} … {' '.join(cta.group(0).split())}"
            out.append(
                Signal("content.money_cta", f"money amount with a call to action: {evidence}", 0.3, evidence)
            )
        else:
            # People quote prices too: an amount is weak alone and counts with other signals.
            out.append(Signal("content.amount", "money amount", 0.12))
    letters = sum(map(str.isalpha, text))
    if letters >= 12 and _mostly_upper(text, letters):
        out.append(Signal("content.shouting", "mostly capital letters", 0.1))
    if sum(map(text.count, "!?$*#@.")) >= 3 and _PUNCT_RUN.search(text):
        out.append(Signal("content.punctuation", "runs of repeated punctuation", 0.05))
    if _CHAR_RUN.search(low):
        out.append(Signal("content.repeated_chars", "runs of one repeated character", 0.05))
    visible = len("".join(text.split()))
    if visible >= 10 and letters / visible < 0.4:
        out.append(Signal("content.non_letters", "mostly symbols and digits", 0.2))
    return out


def _mostly_upper(text: str, letters: int | None = None) -> bool:
    letters = sum(map(str.isalpha, text)) if letters is None else letters
    return letters > 0 and sum(map(str.isupper, text)) / letters > 0.7
