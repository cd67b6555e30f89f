"""The learned spam model: a logistic regression over hashed features, its batch training and
online (moderator feedback) updates, and its wire/file format (the value published on the
compacted model topic).

The rule score enters as one feature (`rules.prior`, its logit), so a model that has learned
nothing reproduces the rules, and training or moderator feedback moves it from there. Weights
live in a dict (what travels and what feedback edits); scoring reads a dense numpy copy built
once per model version, so a comment costs one gather and one dot product.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import orjson

from streamproc.detect.ngrams import Hashes, Values, name_hash
from streamproc.errors import ConfigError

FORMAT = "streamproc-spam-model"
FORMAT_VERSION = 2  # 2: binary index deltas and float32 weights after a JSON header line
DIM_BITS = 20  # 1M buckets: few collisions for the vocabulary of comment sites
PRIOR_NAME = "rules.prior"  # the model feature carrying the rule score (as a logit)
PRIOR_CLIP = 0.02  # rule scores are clipped to [0.02, 0.98] before the logit
# Keeps a published model under the topic's 900 KB: about 4 bytes a weight once compressed
# (measured in tests/unit/detect/test_model.py).
MAX_WEIGHTS = 120_000
FEEDBACK_LR = 1.0  # step size of one moderator label: a few labels visibly move similar text
FEEDBACK_BIAS_LR = 0.02  # labels arrive unbalanced (mostly spam); keep them off the bias
L2 = 1e-6  # weight decay of a feedback step
RECENT_FEEDBACK = 2000  # label keys remembered in the model, to apply re-delivered labels once

Feature = tuple[str | int, float]  # (name, value), or (32-bit hash, value) for character n-grams


class Vector(NamedTuple):
    """A comment's features as arrays: 32-bit hashes (not yet reduced to the model's buckets)
    and values. Named features come first, in the order of `names` when one is kept."""

    index: Hashes
    values: Values


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def prior_logit(rule_score: float) -> float:
    p = min(1 - PRIOR_CLIP, max(PRIOR_CLIP, rule_score))
    return math.log(p / (1 - p))


def feature_hash(name: str | int) -> int:
    return name_hash(name) if isinstance(name, str) else name


def as_vector(features: Sequence[Feature] | Vector) -> Vector:
    if isinstance(features, Vector):
        return features
    index = np.fromiter((feature_hash(n) for n, _ in features), dtype=np.uint32, count=len(features))
    values = np.fromiter((v for _, v in features), dtype=np.float64, count=len(features))
    return Vector(index, values)


PRIOR_HASH = name_hash(PRIOR_NAME)


@dataclass(slots=True)
class LinearModel:
    """Logistic regression: p(spam) = sigmoid(bias + sum w[hash(f) mod 2^bits] * x_f).

    `version` 0 means "never trained": the spam core then uses the rule score as it is.
    """

    version: int = 0
    bias: float = 0.0
    weights: dict[int, float] = field(default_factory=dict)
    bits: int = DIM_BITS
    meta: dict[str, Any] = field(default_factory=dict)
    _dense: npt.NDArray[np.float64] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def untrained(cls) -> LinearModel:
        """Rules-only starting point: the prior feature has weight 1, everything else 0."""
        m = cls()
        m.weights[PRIOR_HASH & m.mask] = 1.0
        return m

    @property
    def trained(self) -> bool:
        return self.version > 0

    @property
    def mask(self) -> int:
        return (1 << self.bits) - 1

    def dense(self) -> npt.NDArray[np.float64]:
        """Every bucket's weight as one array (built on first use; `update` keeps it current)."""
        if self._dense is None:
            d = np.zeros(1 << self.bits)
            if self.weights:
                n = len(self.weights)
                d[np.fromiter(self.weights.keys(), dtype=np.int64, count=n)] = np.fromiter(
                    self.weights.values(), dtype=np.float64, count=n
                )
            self._dense = d
        return self._dense

    def buckets(self, index: Hashes) -> npt.NDArray[np.intp]:
        return (index & np.uint32(self.mask)).astype(np.intp)

    def score_logit(self, vec: Vector) -> float:
        """bias + w . x for one comment's vector."""
        return self.bias + float(self.dense()[self.buckets(vec.index)] @ vec.values)

    def contributions(self, vec: Vector) -> Values:
        """Each feature's share of the logit (for explanations), in the vector's order."""
        return self.dense()[self.buckets(vec.index)] * vec.values

    def index(self, features: Sequence[Feature]) -> list[tuple[int, float]]:
        mask = self.mask
        return [(feature_hash(name) & mask, value) for name, value in features]

    def logit(self, indexed: Sequence[tuple[int, float]]) -> float:
        w = self.weights
        return self.bias + sum(w.get(i, 0.0) * v for i, v in indexed)

    def _set(self, i: int, value: float) -> None:
        self.weights[i] = value
        if self._dense is not None:
            self._dense[i] = value

    def update(
        self, examples: Iterable[tuple[Sequence[Feature] | Vector, int]], keys: Sequence[str] | None = None
    ) -> int:
        """Apply moderator labels (online SGD), then bump the version. Returns labels applied.

        The rule prior keeps its weight: a handful of labels, mostly of one class, would
        otherwise re-weigh every rule at once. Labels teach the words and signals they contain.
        `keys` name the labels (comment, label, moderator): a label already applied, e.g. one
        delivered again after a worker restart, is skipped, so feedback is applied once.
        """
        recent: list[str] = list(self.meta.get("recent_feedback", ()))
        seen = set(recent)
        prior = PRIOR_HASH & self.mask
        n = 0
        for k, (features, label) in enumerate(examples):
            key = keys[k] if keys is not None else None
            if key is not None:
                if key in seen:
                    continue
                seen.add(key)
                recent.append(key)
            vec = as_vector(features)
            g = label - sigmoid(self.score_logit(vec))
            for i, v in zip(self.buckets(vec.index).tolist(), vec.values.tolist(), strict=True):
                if i != prior:
                    old = self.weights.get(i, 0.0)
                    self._set(i, old + FEEDBACK_LR * (g * v - L2 * old))
            self.bias += FEEDBACK_BIAS_LR * g
            n += 1
        if n:
            self.version += 1
            self.meta["feedback_labels"] = int(self.meta.get("feedback_labels", 0)) + n
            self.meta["recent_feedback"] = recent[-RECENT_FEEDBACK:]
        return n

    # --- wire format --------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """A JSON header line, then sorted bucket numbers as uint32 deltas and their float32
        weights (bytes grouped by significance, which zlib packs far better), all compressed.
        The largest weights are kept if there are more than MAX_WEIGHTS."""
        items = [(i, w) for i, w in self.weights.items() if abs(w) >= 1e-6]
        if len(items) > MAX_WEIGHTS:
            items.sort(key=lambda kv: -abs(kv[1]))
            items = items[:MAX_WEIGHTS]
        items.sort()
        index = np.array([i for i, _ in items], dtype=np.uint32)
        weight = np.array([w for _, w in items], dtype="<f4")
        deltas = np.diff(index, prepend=np.uint32(0)).astype("<u4")
        header = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "version": self.version,
            "bits": self.bits,
            "bias": self.bias,
            "count": len(items),
            "meta": self.meta,
        }
        body = _shuffle(deltas.tobytes(), 4) + _shuffle(weight.tobytes(), 4)
        return zlib.compress(orjson.dumps(header) + b"\n" + body, 9)

    @classmethod
    def from_bytes(cls, data: bytes) -> LinearModel:
        try:
            raw = data if data[:1] == b"{" else zlib.decompress(data)
            head, newline, body = raw.partition(b"\n")
            obj = orjson.loads(head)
            if obj.get("format") != FORMAT or obj.get("format_version") not in (1, FORMAT_VERSION):
                raise ValueError(f"not a {FORMAT} v1 or v{FORMAT_VERSION} file")
            if obj["format_version"] == 1:  # JSON lists, as written before the binary body
                weights = dict(zip(obj["index"], obj["weight"], strict=True))
            else:
                n = int(obj["count"])
                if not newline or len(body) != 8 * n:
                    raise ValueError(f"body holds {len(body)} bytes, {8 * n} expected")
                deltas = np.frombuffer(_unshuffle(body[: 4 * n], 4), dtype="<u4")
                index = np.cumsum(deltas, dtype=np.uint64)
                weight = np.frombuffer(_unshuffle(body[4 * n :], 4), dtype="<f4")
                weights = dict(zip(index.tolist(), weight.astype(np.float64).tolist(), strict=True))
            return cls(
                int(obj["version"]), float(obj["bias"]), weights, int(obj["bits"]), obj.get("meta", {})
            )
        except (zlib.error, orjson.JSONDecodeError, KeyError, TypeError, ValueError, struct.error) as exc:
            raise ConfigError(f"not a streamproc spam model: {exc}") from None


def _shuffle(data: bytes, width: int) -> bytes:
    return np.frombuffer(data, dtype=np.uint8).reshape(-1, width).T.tobytes()


def _unshuffle(data: bytes, width: int) -> bytes:
    return np.frombuffer(data, dtype=np.uint8).reshape(width, -1).T.tobytes()
