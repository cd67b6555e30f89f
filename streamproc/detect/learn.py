"""Batch training of the spam model from labelled examples: class-weighted, L2-regularised
logistic regression over the hashed features, optionally scaled by naive-Bayes log-count
ratios, fitted with L-BFGS, pruned to what the model topic can carry, then calibrated.

- Class weights: each class weighs half of the loss, so a corpus with little spam still
  teaches spam.
- Naive-Bayes scaling (NB-LR): each text feature is multiplied by the log ratio of its
  smoothed document frequency in spam and in ham before fitting, so a feature that separates
  the classes is cheap to use and one seen on both sides is expensive. The stored weight is
  the product, so scoring and online feedback see an ordinary linear model.
- Regularisation pulls every weight towards where it started (the rules-only model: the rule
  prior at 1), so training moves the model away from the rules only as far as the data asks.
- Calibration: Platt scaling fitted on out-of-fold logits, folded into the weights, so a score
  of 0.9 means about 90% spam on data like the training data.

Pure numpy: a training set of ten thousand comments fits in seconds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streamproc.detect.model import (
    MAX_WEIGHTS,
    PRIOR_HASH,
    Feature,
    LinearModel,
    Vector,
    as_vector,
)

Floats = npt.NDArray[np.float64]
MAX_PLATT_SLOPE = 2.0
Ints = npt.NDArray[np.intp]


@dataclass(slots=True, frozen=True)
class TrainOptions:
    """How `train` fits. The defaults were chosen leave-one-source-out (docs/spam.md)."""

    c: float = 4.0  # inverse regularisation strength per example (as in common LR libraries)
    iterations: int = 80  # L-BFGS iterations (each one or two passes over the data)
    balanced: bool = True  # weigh spam and ham as equal halves of the loss
    nb: bool = False  # scale features by naive-Bayes log-count ratios (hurt transfer: docs/spam.md)
    nb_alpha: float = 1.0  # smoothing of the document counts behind those ratios
    calibrate: bool = False  # Platt scaling on out-of-fold logits (hurt transfer: docs/spam.md)
    folds: int = 3  # for calibration
    max_weights: int = MAX_WEIGHTS  # keep the largest weights, refit on them
    seed: int = 0  # fold assignment
    # Signals and the rule prior are pulled this many times harder towards their start than
    # text features: what a signal means depends on the source ("a link" is spam under a
    # music video and a citation under a news article), the rules already weigh them, and
    # one source must not teach the model to distrust a whole rule.
    structured_penalty: float = 30.0


@dataclass(slots=True)
class _Data:
    """Examples as a sparse matrix over the buckets they use (columns compacted)."""

    rows: Ints  # row of each stored value
    cols: Ints  # compact column of each stored value
    vals: Floats
    y: Floats
    weight: Floats  # per-example loss weight, summing to the number of examples
    buckets: Ints  # model bucket of each compact column
    n: int
    balanced: bool

    def matvec(self, w: Floats) -> Floats:
        return np.bincount(self.rows, weights=self.vals * w[self.cols], minlength=self.n)

    def rmatvec(self, g: Floats) -> Floats:
        return np.bincount(self.cols, weights=self.vals * g[self.rows], minlength=len(self.buckets))

    def subset(self, keep_rows: Ints) -> _Data:
        mark = np.zeros(self.n, dtype=bool)
        mark[keep_rows] = True
        sel = mark[self.rows]
        remap = np.full(self.n, -1, dtype=np.intp)
        remap[keep_rows] = np.arange(len(keep_rows))
        return _Data(
            remap[self.rows[sel]],
            self.cols[sel],
            self.vals[sel],
            self.y[keep_rows],
            _class_weights(self.y[keep_rows]) if self.balanced else np.ones(len(keep_rows)),
            self.buckets,
            len(keep_rows),
            self.balanced,
        )

    def columns(self, keep: Ints) -> _Data:
        """Only the given compact columns (renumbered in that order)."""
        remap = np.full(len(self.buckets), -1, dtype=np.intp)
        remap[keep] = np.arange(len(keep))
        sel = remap[self.cols] >= 0
        return _Data(
            self.rows[sel],
            remap[self.cols[sel]],
            self.vals[sel],
            self.y,
            self.weight,
            self.buckets[keep],
            self.n,
            self.balanced,
        )


def _class_weights(y: Floats) -> Floats:
    n, pos = len(y), float(y.sum())
    if pos == 0 or pos == n:
        return np.ones(n)
    return np.where(y > 0, n / (2 * pos), n / (2 * (n - pos)))


def _matrix(examples: Sequence[tuple[Sequence[Feature] | Vector, int]], bits: int, balanced: bool) -> _Data:
    vecs = [as_vector(f) for f, _ in examples]
    lengths = np.fromiter((len(v.index) for v in vecs), dtype=np.intp, count=len(vecs))
    rows = np.repeat(np.arange(len(vecs)), lengths)
    mask = np.uint32((1 << bits) - 1)
    if vecs:
        buckets = (np.concatenate([v.index for v in vecs]) & mask).astype(np.intp)
        vals = np.concatenate([v.values for v in vecs]).astype(np.float64)
    else:
        buckets, vals = np.zeros(0, dtype=np.intp), np.zeros(0)
    uniq, cols = np.unique(buckets, return_inverse=True)
    y = np.array([float(label) for _, label in examples])
    weight = _class_weights(y) if balanced else np.ones(len(y))
    return _Data(rows, cols.astype(np.intp), vals, y, weight, uniq.astype(np.intp), len(vecs), balanced)


def _nb_ratios(data: _Data, alpha: float) -> Floats:
    """log(p_j / |p|) - log(q_j / |q|) over smoothed document counts."""
    present = data.vals != 0
    spam = data.y[data.rows] > 0
    p = alpha + np.bincount(data.cols[present & spam], minlength=len(data.buckets))
    q = alpha + np.bincount(data.cols[present & ~spam], minlength=len(data.buckets))
    r: Floats = np.log(p / p.sum()) - np.log(q / q.sum())
    return r


def _loss_grad(
    data: _Data, w: Floats, b: float, w0: Floats, b0: float, lam: Floats, lam_b: float
) -> tuple[float, Floats, float]:
    z = data.matvec(w) + b
    # log(1 + e^z) - y z, computed without overflow
    loss = np.logaddexp(0.0, z) - data.y * z
    p = 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function, stable for large |z|
    g = data.weight * (p - data.y) / data.n
    dw = w - w0
    f = float(data.weight @ loss) / data.n + 0.5 * float(lam @ (dw * dw)) + 0.5 * lam_b * (b - b0) ** 2
    return f, data.rmatvec(g) + lam * dw, float(g.sum()) + lam_b * (b - b0)


def _lbfgs(
    data: _Data, w0: Floats, b0: float, lam: Floats, lam_b: float, iterations: int, memory: int = 10
) -> tuple[Floats, float]:
    """Minimise the regularised loss from (w0, b0); the L2 pull is towards (w0, b0)."""
    x = np.append(w0, b0)

    def fg(x: Floats) -> tuple[float, Floats]:
        f, gw, gb = _loss_grad(data, x[:-1], float(x[-1]), w0, b0, lam, lam_b)
        return f, np.append(gw, gb)

    f, g = fg(x)
    s_hist: list[Floats] = []
    y_hist: list[Floats] = []
    for it in range(iterations):
        # two-loop recursion: d = -H g
        q = g.copy()
        alphas = []
        for s, yv in zip(reversed(s_hist), reversed(y_hist), strict=True):
            rho = 1.0 / float(yv @ s)
            a = rho * float(s @ q)
            alphas.append((rho, a))
            q -= a * yv
        if y_hist:
            q *= float(s_hist[-1] @ y_hist[-1]) / float(y_hist[-1] @ y_hist[-1])
        else:
            q /= max(1.0, float(np.sqrt(g @ g)))
        for (s, yv), (rho, a) in zip(zip(s_hist, y_hist, strict=True), reversed(alphas), strict=True):
            q += s * (a - rho * float(yv @ q))
        d = -q
        slope = float(g @ d)
        if slope >= 0:  # not a descent direction: restart from the gradient
            s_hist.clear()
            y_hist.clear()
            d = -g / max(1.0, float(np.sqrt(g @ g)))
            slope = float(g @ d)
        step = 1.0
        for _ in range(20):  # backtracking (Armijo)
            x_new = x + step * d
            f_new, g_new = fg(x_new)
            if f_new <= f + 1e-4 * step * slope:
                break
            step *= 0.5
        else:
            break
        s_vec, y_vec = x_new - x, g_new - g
        if float(s_vec @ y_vec) > 1e-12:
            s_hist.append(s_vec)
            y_hist.append(y_vec)
            if len(s_hist) > memory:
                s_hist.pop(0)
                y_hist.pop(0)
        converged = abs(f - f_new) <= 1e-9 * max(1.0, abs(f))
        x, f, g = x_new, f_new, g_new
        if converged and it > 5:
            break
    return x[:-1], float(x[-1])


def _fit(data: _Data, start: LinearModel, opts: TrainOptions, structured: Ints) -> tuple[Floats, float]:
    """Weights (over data's compact columns, NB scaling folded in) and bias. `structured` marks
    the columns of signals and the prior (no NB scaling, a heavier pull to the start)."""
    dense = start.dense()
    w_start = dense[data.buckets]
    r = _nb_ratios(data, opts.nb_alpha) if opts.nb else np.ones(len(data.buckets))
    r[structured] = 1.0
    scaled = _Data(
        data.rows,
        data.cols,
        data.vals * r[data.cols],
        data.y,
        data.weight,
        data.buckets,
        data.n,
        data.balanced,
    )
    # Start where the given model is: weights in the scaled space are w / r.
    safe = np.where(np.abs(r) > 1e-9, r, 1.0)
    w0 = np.where(np.abs(r) > 1e-9, w_start / safe, 0.0)
    base = 1.0 / (opts.c * max(1, data.n))
    lam = np.full(len(data.buckets), base)
    lam[structured] *= opts.structured_penalty
    # The bias is pulled like the prior: otherwise the model learns "ham is what mentions this
    # site's topics" and calls everything on a new site spam; with the bias held, unknown text
    # falls back to the rules and the model must find what spam says.
    w, b = _lbfgs(scaled, w0, start.bias, lam, base * opts.structured_penalty, opts.iterations)
    return w * r, b


def _columns_of(data: _Data, buckets: Iterable[int]) -> Ints:
    wanted = np.fromiter(set(buckets), dtype=np.intp)
    return np.flatnonzero(np.isin(data.buckets, wanted))


def _platt(z: Floats, y: Floats) -> tuple[float, float]:
    """(a, b) maximising the likelihood of y under sigmoid(a z + b): Newton's method, with
    Platt's smoothed targets so that separable data does not drive the slope to infinity."""
    pos = float(y.sum())
    neg = len(y) - pos
    y = np.where(y > 0, (pos + 1) / (pos + 2), 1 / (neg + 2))
    a, b = 1.0, 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(a * z + b)))
        g = np.array([float((p - y) @ z), float((p - y).sum())])
        w = p * (1 - p) + 1e-9
        h = np.array([[float(w @ (z * z)), float(w @ z)], [float(w @ z), float(w.sum())]]) + 1e-6 * np.eye(2)
        step = np.linalg.solve(h, g)
        a, b = a - float(step[0]), b - float(step[1])
        if float(np.abs(step).max()) < 1e-8:
            break
    return a, b


def train(
    examples: Sequence[tuple[Sequence[Feature] | Vector, int]],
    *,
    options: TrainOptions | None = None,
    start: LinearModel | None = None,
    structured: Iterable[int] = (),
    groups: Sequence[str] | None = None,
) -> LinearModel:
    """Fit a model from labelled examples (features, 1 spam / 0 ham), deterministic for the
    options' seed. Starts from `start` (the rules-only model by default). `structured` are the
    hashes of signal features (the prior is always one): see TrainOptions.structured_penalty.
    `groups` name each example's source (a thread, a site): calibration folds keep a source
    whole, so the scores are calibrated for sources the model has not seen."""
    opts = options or TrainOptions()
    model = start or LinearModel.untrained()
    data = _matrix(examples, model.bits, opts.balanced)
    marked = {h & model.mask for h in structured} | {PRIOR_HASH & model.mask}
    w, b = _fit(data, model, opts, _columns_of(data, marked))
    if len(w) > opts.max_weights:
        keep = np.sort(np.argsort(-np.abs(w), kind="stable")[: opts.max_weights])
        data = data.columns(keep)
        w, b = _fit(data, model, opts, _columns_of(data, marked))
    a, shift = 1.0, 0.0
    if opts.calibrate and data.n >= 4 * opts.folds and 0 < data.y.sum() < data.n:
        a, shift = _calibration(data, model, opts, _columns_of(data, marked), groups)
    weights = dict(model.weights)
    for bucket, value in zip(data.buckets.tolist(), (a * w).tolist(), strict=True):
        weights[bucket] = value
    trained = LinearModel(max(1, model.version + 1), a * b + shift, weights, model.bits, dict(model.meta))
    trained.meta.update(
        {
            "trained_examples": data.n,
            "calibration": [round(a, 4), round(shift, 4)],
            "options": {"c": opts.c, "nb": opts.nb, "balanced": opts.balanced, "calibrate": opts.calibrate},
        }
    )
    return trained


def _folds(n: int, opts: TrainOptions, groups: Sequence[str] | None) -> Ints:
    """Fold of each example: whole groups per fold when there are enough groups."""
    rng = random.Random(opts.seed)
    fold = np.empty(n, dtype=np.intp)
    names = sorted(set(groups)) if groups is not None else []
    if len(names) >= opts.folds:
        rng.shuffle(names)
        of = {g: k % opts.folds for k, g in enumerate(names)}
        fold[:] = [of[g] for g in groups or ()]
        return fold
    order = list(range(n))
    rng.shuffle(order)
    fold[order] = np.arange(n) % opts.folds
    return fold


def _calibration(
    data: _Data, start: LinearModel, opts: TrainOptions, structured: Ints, groups: Sequence[str] | None
) -> tuple[float, float]:
    fold = _folds(data.n, opts, groups)
    z = np.zeros(data.n)
    for k in range(opts.folds):
        train_rows, held = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        w, b = _fit(data.subset(train_rows), start, opts, structured)
        z[held] = data.subset(held).matvec(w) + b
    a, b = _platt(z, data.y)
    if not math.isfinite(a) or not math.isfinite(b) or a <= 0:
        return 1.0, 0.0
    # Out-of-fold logits come from the training sources: new sources are less certain, and a
    # steep slope would also leave moderator feedback (steps in logit units) no room to act.
    if a > MAX_PLATT_SLOPE:
        b, a = b * MAX_PLATT_SLOPE / a, MAX_PLATT_SLOPE
    return a, b
