"""The learned spam model: an online logistic regression over hashed features, its SGD updates,
and its wire/file format (the value published on the compacted model topic).

The rule score enters as one feature (`rules.prior`, its logit), so a model that has learned
nothing reproduces the rules, and training or moderator feedback moves it from there. Pure
Python: a comment has a few hundred active features, so a dict-of-weights dot product is fast.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from streamproc.detect.features import PRIOR_NAME, Feature, hash_feature
from streamproc.errors import ConfigError

FORMAT = "streamproc-spam-model"
FORMAT_VERSION = 1
DIM_BITS = 20  # 1M buckets: few collisions for the vocabulary of comment sites
PRIOR_CLIP = 0.02  # rule scores are clipped to [0.02, 0.98] before the logit
MAX_WEIGHTS = 50_000  # keeps a published model (~8 bytes a weight compressed) under 1 MB
FEEDBACK_LR = 1.0  # step size of one moderator label: a few labels visibly move similar text
FEEDBACK_BIAS_LR = 0.02  # labels arrive unbalanced (mostly spam); keep them off the bias
L2 = 1e-6
RECENT_FEEDBACK = 2000  # label keys remembered in the model, to apply re-delivered labels once


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def prior_logit(rule_score: float) -> float:
    p = min(1 - PRIOR_CLIP, max(PRIOR_CLIP, rule_score))
    return math.log(p / (1 - p))


@dataclass(slots=True)
class LinearModel:
    """Logistic regression: p(spam) = sigmoid(bias + sum w[hash(f)] * x_f).

    `version` 0 means "never trained": the spam core then uses the rule score as it is.
    """

    version: int = 0
    bias: float = 0.0
    weights: dict[int, float] = field(default_factory=dict)
    bits: int = DIM_BITS
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def untrained(cls) -> LinearModel:
        """Rules-only starting point: the prior feature has weight 1, everything else 0."""
        m = cls()
        m.weights[hash_feature(PRIOR_NAME, m.bits)] = 1.0
        return m

    @property
    def trained(self) -> bool:
        return self.version > 0

    def index(self, features: Sequence[Feature]) -> list[tuple[int, float]]:
        mask = (1 << self.bits) - 1  # inlined hash_feature: this runs per feature per comment
        return [(zlib.crc32(name.encode()) & mask, value) for name, value in features]

    def logit(self, indexed: Sequence[tuple[int, float]]) -> float:
        w = self.weights
        return self.bias + sum(w.get(i, 0.0) * v for i, v in indexed)

    def contributions(self, features: Sequence[Feature]) -> list[tuple[str, float]]:
        """Each feature's share of the logit (for explanations)."""
        w, mask = self.weights, (1 << self.bits) - 1
        return [(name, w.get(zlib.crc32(name.encode()) & mask, 0.0) * v) for name, v in features]

    def _step_at(self, indexed: Sequence[tuple[int, float]], g: float, lr: float, bias_lr: float) -> None:
        """One SGD step on the log loss with gradient `g` (label minus prediction)."""
        w = self.weights
        for i, v in indexed:
            old = w.get(i, 0.0)
            w[i] = old + lr * (g * v - L2 * old)
        self.bias += bias_lr * g

    def update(
        self, examples: Iterable[tuple[Sequence[Feature], int]], keys: Sequence[str] | None = None
    ) -> int:
        """Apply moderator labels (online), then bump the version. Returns labels applied.

        The rule prior keeps its weight: a handful of labels, mostly of one class, would
        otherwise re-weigh every rule at once. Labels teach the words and signals they contain.
        `keys` name the labels (comment, label, moderator): a label already applied, e.g. one
        delivered again after a worker restart, is skipped, so feedback is applied once.
        """
        recent: list[str] = list(self.meta.get("recent_feedback", ()))
        seen = set(recent)
        n = 0
        for k, (features, label) in enumerate(examples):
            key = keys[k] if keys is not None else None
            if key is not None:
                if key in seen:
                    continue
                seen.add(key)
                recent.append(key)
            indexed = self.index([(name, v) for name, v in features if name != PRIOR_NAME])
            p = sigmoid(self.logit(self.index(features)))
            self._step_at(indexed, label - p, FEEDBACK_LR, FEEDBACK_BIAS_LR)
            n += 1
        if n:
            self.version += 1
            self.meta["feedback_labels"] = int(self.meta.get("feedback_labels", 0)) + n
            self.meta["recent_feedback"] = recent[-RECENT_FEEDBACK:]
        return n

    # --- wire format --------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """zlib-compressed JSON; the largest weights are kept if there are too many."""
        items = sorted(self.weights.items(), key=lambda kv: -abs(kv[1]))[:MAX_WEIGHTS]
        items = [(i, w) for i, w in items if abs(w) >= 1e-5]
        items.sort()
        obj = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "version": self.version,
            "bits": self.bits,
            "bias": self.bias,
            "index": [i for i, _ in items],
            "weight": [round(w, 6) for _, w in items],
            "meta": self.meta,
        }
        return zlib.compress(orjson.dumps(obj), 6)

    @classmethod
    def from_bytes(cls, data: bytes) -> LinearModel:
        try:
            raw = data if data[:1] == b"{" else zlib.decompress(data)
            obj = orjson.loads(raw)
            if obj.get("format") != FORMAT or obj.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"not a {FORMAT} v{FORMAT_VERSION} file")
            weights = dict(zip(obj["index"], obj["weight"], strict=True))
            return cls(
                int(obj["version"]), float(obj["bias"]), weights, int(obj["bits"]), obj.get("meta", {})
            )
        except (zlib.error, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"not a streamproc spam model: {exc}") from None


def train(
    examples: Sequence[tuple[Sequence[Feature], int]],
    *,
    epochs: int = 6,
    lr: float = 0.3,
    seed: int = 0,
    start: LinearModel | None = None,
) -> LinearModel:
    """Fit from labelled examples with AdaGrad-scaled SGD over shuffled epochs (deterministic
    for a seed). Starts from the rules-only model so the prior's weight is learned too."""
    model = start or LinearModel.untrained()
    indexed = [(model.index(f), y) for f, y in examples]
    rng = random.Random(seed)
    order = list(range(len(indexed)))
    acc: dict[int, float] = {}
    bias_acc = 1.0
    w = model.weights
    for _ in range(epochs):
        rng.shuffle(order)
        for k in order:
            x, y = indexed[k]
            g = y - sigmoid(model.logit(x))
            for i, v in x:
                gi = g * v
                a = acc.get(i, 1.0) + gi * gi
                acc[i] = a
                old = w.get(i, 0.0)
                w[i] = old + lr * (gi - L2 * old) / math.sqrt(a)
            bias_acc += g * g
            model.bias += lr * g / math.sqrt(bias_acc)
    model.version = max(1, model.version + 1)
    model.meta.update({"trained_examples": len(examples), "epochs": epochs})
    return model
