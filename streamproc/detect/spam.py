"""Spam scoring: every signal (links, duplicates, content, author, timing) into one score in
[0, 1] with the reasons that drove it; rules by default, the learned model once it has learned.

Rules: each signal has a weight and independent signals combine by noisy-OR. Model: logistic
regression over hashed n-grams, the signals and the rule score (see model.py). Either way,
signals derived only from the event's own timestamps add at most TIMED_CAP to the rest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from streamproc.detect.decide import Thresholds
from streamproc.detect.features import (
    PRIOR_NAME,
    TIMED_CAP,
    AuthorActivity,
    Feature,
    Signal,
    all_signals,
    prepare,
    text_features,
)
from streamproc.detect.model import LinearModel, prior_logit, sigmoid
from streamproc.events import Comment, Reason, StageResult

VERSION = "spam-rules-2"
TOP_NGRAMS = 3  # learned phrases listed as reasons
MIN_CONTRIBUTION = 0.05  # smaller logit contributions are not worth a reason
MIN_LEARNED = 0.2  # a learned phrase or spelling must move the logit this much to be listed


def noisy_or(weights: Sequence[float]) -> float:
    """Independent pieces of evidence add up without passing 1."""
    remaining = 1.0
    for w in weights:
        remaining *= 1.0 - min(w, 0.99)
    return 1.0 - remaining


def guarded(score_all: float, score_untimed: float) -> float:
    """Timestamp-derived evidence adds at most TIMED_CAP to the rest: it can tip other evidence
    over a threshold but cannot decide alone (a forged posted_at costs an attacker nothing)."""
    return min(score_all, score_untimed + TIMED_CAP)


def rule_score(signals: Sequence[Signal]) -> float:
    return guarded(
        noisy_or([s.weight for s in signals]), noisy_or([s.weight for s in signals if not s.timed])
    )


@dataclass(slots=True)
class SpamInput:
    """Everything the scorers look at for one comment, computed once."""

    signals: list[Signal]
    features: list[Feature]  # model features: n-grams, signals, rule prior
    rules: float  # the rule score


def spam_input(
    comment: Comment,
    stages: Mapping[str, StageResult],
    activity: AuthorActivity | None,
    *,
    features: bool = True,
) -> SpamInput:
    """Signals, rule score and (unless `features` is false: rules only) the model features."""
    text = prepare(comment.text)
    signals = all_signals(comment, stages, text, activity)
    rules = rule_score(signals)
    if not features:
        return SpamInput(signals, [], rules)
    feats = text_features(text)
    feats.extend((f"s:{s.code}", 1.0) for s in signals)
    feats.append((PRIOR_NAME, prior_logit(rules)))
    return SpamInput(signals, feats, rules)


def _label(score: float, thresholds: Thresholds) -> str:
    return "spam" if score >= thresholds.reject else "suspicious" if score >= thresholds.hold else "ham"


def _reason(s: Signal, weight: float) -> Reason:
    return Reason(s.code, s.text, weight, s.evidence)


def model_score(model: LinearModel, inp: SpamInput) -> tuple[float, list[Reason]]:
    """The learned score and its explanation: each signal's share of the logit (its own weight
    plus its part of the rule prior), and the learned words and character n-grams."""
    contrib = dict(model.contributions(inp.features))
    logit = model.bias + sum(contrib.values())
    timed = sum(contrib.get(f"s:{s.code}", 0.0) for s in inp.signals if s.timed)
    score = guarded(sigmoid(logit), sigmoid(logit - timed))
    prior = contrib.get(PRIOR_NAME, 0.0)
    mass = sum(-_log1m(s.weight) for s in inp.signals) or 1.0
    reasons = []
    for s in inp.signals:
        share = contrib.get(f"s:{s.code}", 0.0) + max(prior, 0.0) * -_log1m(s.weight) / mass
        if share >= MIN_CONTRIBUTION:
            reasons.append(_reason(s, share))
    words: list[tuple[float, str]] = []
    chars = 0.0
    for name, c in contrib.items():
        if c > 0:
            if name[0] == "c":
                chars += c
            elif c >= MIN_LEARNED and name[0] in "wb":
                words.append((c, name))
    words.sort(reverse=True)
    for c, name in words[:TOP_NGRAMS]:
        reasons.append(Reason("model.phrase", f"learned spam phrase: {name[2:]!r}", c, name[2:]))
    if chars >= MIN_LEARNED:
        reasons.append(Reason("model.char_ngrams", "learned spelling patterns", chars))
    return score, reasons


def _log1m(w: float) -> float:
    return math.log(1.0 - min(w, 0.99))


def score_spam(
    comment: Comment,
    stages: Mapping[str, StageResult],
    *,
    model: LinearModel | None = None,
    activity: AuthorActivity | None = None,
    thresholds: Thresholds | None = None,
) -> StageResult:
    """The spam stage's verdict from the comment, the earlier stages' results, the author's
    recent activity and the current model (rules alone when the model is untrained)."""
    thresholds = thresholds or Thresholds()
    learned = model is not None and model.trained
    inp = spam_input(comment, stages, activity, features=learned)
    data: dict[str, object] = {"rule_score": round(inp.rules, 4), "model_version": 0}
    if learned and model is not None:
        score, reasons = model_score(model, inp)
        if score < thresholds.hold:  # learned n-grams did not drive a ham verdict: keep it readable
            reasons = [r for r in reasons if not r.code.startswith("model.")]
        version = f"spam-model-{model.version}"
        data["model_version"] = model.version
    else:
        score = inp.rules
        reasons = [_reason(s, s.weight) for s in inp.signals]
        version = VERSION
    reasons.sort(key=lambda r: (-r.weight, r.code))
    return StageResult("spam", _label(score, thresholds), score, reasons, version, data)
