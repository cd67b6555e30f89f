"""Spam scoring: every signal (links, duplicates, content, author, timing) into one score in
[0, 1] with the reasons that drove it; rules by default, the learned model once it has learned.

Rules: each signal has a weight and independent signals combine by noisy-OR. Model: logistic
regression over hashed n-grams, the signals and the rule score (see model.py). Either way,
signals derived only from the event's own timestamps add at most TIMED_CAP to the rest.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from streamproc.detect.decide import Thresholds
from streamproc.detect.features import TIMED_CAP, AuthorActivity, Signal, all_signals, prepare
from streamproc.detect.model import PRIOR_HASH, PRIOR_NAME, Feature, LinearModel, Vector, prior_logit, sigmoid
from streamproc.detect.ngrams import char_features, normalise, url_features, word_features
from streamproc.events import Comment, Reason, StageResult

VERSION = "spam-rules-3"
TOP_NGRAMS = 3  # learned phrases listed as reasons
MIN_CONTRIBUTION = 0.05  # smaller logit contributions are not worth a reason
MIN_LEARNED = 0.2  # a learned phrase or spelling must move the logit this much to be listed
_EMPTY = Vector(np.zeros(0, dtype=np.uint32), np.zeros(0))


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
    """Everything the scorers look at for one comment, computed once.

    `vector` holds the model features in a fixed layout: `text` named text features (words,
    word pairs, link tokens), then one per signal (in `signals` order), then the rule prior,
    then the hashed character n-grams. `names` names the first three parts.
    """

    signals: list[Signal]
    rules: float  # the rule score
    names: list[str] = field(default_factory=list)
    vector: Vector = _EMPTY
    text: int = 0  # named text features at the start of the vector

    @property
    def features(self) -> list[Feature]:
        """(name or hash, value) pairs: what LinearModel.update and the trainer take."""
        k = len(self.names)
        values = self.vector.values.tolist()
        return [
            *zip(self.names, values[:k], strict=True),
            *zip(self.vector.index[k:].tolist(), values[k:], strict=True),
        ]


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
        return SpamInput(signals, rules)
    low = normalise(text)
    names, values = word_features(low)
    links = stages.get("links")
    rows = links.data.get("links") if links is not None else None
    if rows:
        url_names, url_values = url_features(r for r in rows if isinstance(r, dict))
        names += url_names
        values += url_values
    n_text = len(names)
    crc = zlib.crc32
    hashes = [crc(n.encode()) for n in names]
    for sig in signals:
        name = "s:" + sig.code
        names.append(name)
        hashes.append(crc(name.encode()))
    values += [1.0] * len(signals)
    names.append(PRIOR_NAME)
    hashes.append(PRIOR_HASH)
    values.append(prior_logit(rules))
    chars, char_values = char_features(low)
    k = len(names)
    index = np.empty(k + len(chars), dtype=np.uint32)
    index[:k] = hashes
    index[k:] = chars
    return SpamInput(signals, rules, names, Vector(index, np.concatenate([values, char_values])), n_text)


def _label(score: float, thresholds: Thresholds) -> str:
    return "spam" if score >= thresholds.reject else "suspicious" if score >= thresholds.hold else "ham"


def _reason(s: Signal, weight: float) -> Reason:
    return Reason(s.code, s.text, weight, s.evidence)


def model_score(model: LinearModel, inp: SpamInput, *, hold: float = 0.0) -> tuple[float, list[Reason]]:
    """The learned score and its explanation: each signal's share of the logit (its own weight
    plus its part of the rule prior), and, when the score reaches `hold`, the learned words and
    character n-grams (a ham verdict does not list them: they did not drive it)."""
    contrib = model.contributions(inp.vector)
    logit = model.bias + float(contrib.sum())
    t, k = inp.text, len(inp.names)
    shares = contrib[t : k - 1].tolist()  # one per signal, in order
    prior = float(contrib[k - 1])
    timed = sum(c for s, c in zip(inp.signals, shares, strict=True) if s.timed)
    score = guarded(sigmoid(logit), sigmoid(logit - timed))
    masses = [-_log1m(s.weight) for s in inp.signals]
    mass = sum(masses) or 1.0
    reasons = []
    for s, own, m in zip(inp.signals, shares, masses, strict=True):
        share = own + max(prior, 0.0) * m / mass
        if share >= MIN_CONTRIBUTION:
            reasons.append(_reason(s, share))
    if score < hold:
        return score, reasons
    learned = np.flatnonzero(contrib[:t] >= MIN_LEARNED)
    if len(learned):
        words = sorted(((float(contrib[i]), inp.names[i]) for i in learned.tolist()), reverse=True)
        for c, name in words[:TOP_NGRAMS]:
            label = name[2:].removeprefix("d:").removeprefix("h:").removeprefix("t:")
            what = "learned link part" if name[0] == "u" else "learned spam phrase"
            reasons.append(Reason("model.phrase", f"{what}: {label!r}", c, label))
    chars = contrib[k:]
    spelled = float(chars[chars > 0].sum())
    if spelled >= MIN_LEARNED:
        reasons.append(Reason("model.char_ngrams", "learned spelling patterns", spelled))
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
        # Learned n-grams did not drive a ham verdict: it lists the signals only (readable).
        score, reasons = model_score(model, inp, hold=thresholds.hold)
        version = f"spam-model-{model.version}"
        data["model_version"] = model.version
    else:
        score = inp.rules
        reasons = [_reason(s, s.weight) for s in inp.signals]
        version = VERSION
    reasons.sort(key=lambda r: (-r.weight, r.code))
    return StageResult("spam", _label(score, thresholds), score, reasons, version, data)
