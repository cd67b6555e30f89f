"""The learned model: rules-only start, online updates, wire format, explanations."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from streamproc.detect.features import PRIOR_NAME, hash_feature
from streamproc.detect.learn import TrainOptions, train
from streamproc.detect.links import assess_links
from streamproc.detect.model import MAX_WEIGHTS, LinearModel
from streamproc.detect.spam import score_spam, spam_input
from streamproc.errors import ConfigError
from streamproc.events import Comment, comment_from_dict

# A spam variant the rules do not know: no links, no listed phrases.
VARIANT = [
    f"{opener} {product}, {claim}. {ask}"
    for opener, product, claim, ask in zip(
        ["My gran swears by", "Nothing beats", "Two weeks on", "Everyone at my gym uses"] * 2,
        ["the jade herbal tea", "jade herbal tea drops", "the jade tea cleanse", "jade tea"] * 2,
        [
            "it melts belly fat overnight",
            "belly fat just melts away",
            "it flushed my belly fat",
            "belly fat gone",
        ]
        * 2,
        ["ask Lina for the recipe", "Lina sells it, ask her", "Lina changed my life", "message Lina"] * 2,
        strict=True,
    )
]
VARIANT[4:] = [v.replace("jade", "green jade") for v in VARIANT[4:]]  # held out: not word-for-word
ORDINARY = [
    "The council should publish the full budget before the vote.",
    "I rode the new tram line today and it was on time.",
    "I drink green tea every morning before work.",
    "The photos of the flood barriers are impressive.",
]


def _comment(text: str, cid: str = "c1") -> Comment:
    return comment_from_dict({"id": cid, "thread_id": "t", "text": text, "posted_at": "2026-03-01T00:00:00Z"})


def _features(text: str) -> list[tuple[str, float]]:
    c = _comment(text)
    return spam_input(c, {"links": assess_links(text)}, None).features


def _score(text: str, model: LinearModel | None) -> float:
    return score_spam(_comment(text), {"links": assess_links(text)}, model=model).score


def test_untrained_model_gives_the_rule_score_and_version() -> None:
    model = LinearModel.untrained()
    text = "Check out my channel http://bit.ly/x"
    with_model = score_spam(_comment(text), {"links": assess_links(text)}, model=model)
    rules = score_spam(_comment(text), {"links": assess_links(text)})
    assert with_model.to_dict() == rules.to_dict()
    assert rules.version == "spam-rules-3" and rules.data["model_version"] == 0


def test_feedback_raises_a_new_variant_and_leaves_ordinary_text_alone() -> None:
    model = LinearModel.untrained()
    before = [_score(t, None) for t in VARIANT]
    applied = model.update(
        [(_features(t), 1) for t in VARIANT[:4]] + [(_features(t), 0) for t in ORDINARY[:2]]
    )
    assert applied == 6 and model.version == 1
    for text, old in zip(VARIANT[4:], before[4:], strict=True):
        assert _score(text, model) > old + 0.3
    assert all(_score(t, model) < 0.3 for t in ORDINARY)


def test_feedback_does_not_move_the_rule_prior() -> None:
    model = LinearModel.untrained()
    prior = hash_feature(PRIOR_NAME, model.bits)
    model.update([(_features(t), 1) for t in VARIANT])
    assert model.weights[prior] == 1.0


def test_ham_feedback_lowers_a_false_positive() -> None:
    text = "Check out my review of the tram line on the council site"
    model = LinearModel.untrained()
    before = _score(text, None)
    model.update([(_features(text), 0)] * 3)
    assert _score(text, model) < before - 0.2


def test_wire_format_round_trip_gives_identical_verdicts() -> None:
    model = train([(_features(t), 1) for t in VARIANT] + [(_features(t), 0) for t in ORDINARY])
    copy = LinearModel.from_bytes(model.to_bytes())
    assert copy.version == model.version
    for text in VARIANT + ORDINARY:
        a = score_spam(_comment(text), {"links": assess_links(text)}, model=model)
        b = score_spam(_comment(text), {"links": assess_links(text)}, model=copy)
        assert a.score == pytest.approx(b.score, abs=1e-4)
        assert [r.code for r in a.reasons] == [r.code for r in b.reasons]


@pytest.mark.parametrize("data", [b"", b"garbage", b'{"format": "other"}', b"x\x9c\x00"])
def test_bad_model_bytes_raise_config_error(data: bytes) -> None:
    with pytest.raises(ConfigError, match="not a streamproc spam model"):
        LinearModel.from_bytes(data)


def test_training_is_deterministic_for_a_seed() -> None:
    rows: list[Any] = [(_features(t), 1) for t in VARIANT] + [(_features(t), 0) for t in ORDINARY]
    opts = TrainOptions(seed=3, calibrate=True, folds=2)
    assert train(rows, options=opts).to_bytes() == train(rows, options=opts).to_bytes()


def test_model_verdicts_explain_with_signals_and_learned_phrases() -> None:
    rows = [(_features(t), 1) for t in VARIANT] + [(_features(t), 0) for t in ORDINARY]
    model = train(rows * 10)
    text = "Check out my channel, jade herbal tea melts belly fat http://bit.ly/x"
    result = score_spam(_comment(text), {"links": assess_links(text)}, model=model)
    assert result.label == "spam" and result.version == f"spam-model-{model.version}"
    codes = [r.code for r in result.reasons]
    assert "model.phrase" in codes and "content.self_promo" in codes
    weights = [r.weight for r in result.reasons]
    assert weights == sorted(weights, reverse=True) and all(w > 0 for w in weights)


def test_redelivered_feedback_is_applied_once() -> None:
    model = LinearModel.untrained()
    examples = [(_features(t), 1) for t in VARIANT[:2]]
    assert model.update(examples, ["a:spam:m", "b:spam:m"]) == 2
    weights = dict(model.weights)
    assert model.update(examples, ["a:spam:m", "b:spam:m"]) == 0
    assert model.weights == weights and model.version == 1
    again = LinearModel.from_bytes(model.to_bytes())  # the keys travel with the published model
    assert again.update(examples[:1], ["a:spam:m"]) == 0


def test_version_1_files_still_load() -> None:
    import zlib

    import orjson

    old = {"format": "streamproc-spam-model", "format_version": 1, "version": 4, "bits": 20, "bias": -0.5,
           "index": [3, 99], "weight": [0.25, -1.5], "meta": {"source": "x"}}  # fmt: skip
    model = LinearModel.from_bytes(zlib.compress(orjson.dumps(old)))
    assert (model.version, model.bias, model.weights, model.meta) == (
        4,
        -0.5,
        {3: 0.25, 99: -1.5},
        {"source": "x"},
    )


def test_a_full_model_fits_the_model_topic() -> None:
    from streamproc.clients import MAX_MODEL_BYTES

    rng = np.random.default_rng(1)
    model = LinearModel.untrained()
    model.version = 1
    buckets = rng.choice(1 << model.bits, size=MAX_WEIGHTS + 5000, replace=False)
    model.weights.update(zip(buckets.tolist(), rng.normal(0, 0.3, len(buckets)).tolist(), strict=True))
    model.meta["recent_feedback"] = [f"comment-{i}:spam:moderator-{i % 7}" for i in range(2000)]
    data = model.to_bytes()
    print(f"{MAX_WEIGHTS} weights: {len(data)} bytes ({len(data) / MAX_WEIGHTS:.1f} a weight)")
    assert len(data) <= MAX_MODEL_BYTES
    copy = LinearModel.from_bytes(data)
    assert len(copy.weights) == MAX_WEIGHTS  # the smallest weights went
    kept = sorted(model.weights.items(), key=lambda kv: -abs(kv[1]))[:MAX_WEIGHTS]
    assert all(copy.weights[i] == pytest.approx(w, rel=1e-6, abs=1e-7) for i, w in kept)


def test_feedback_keeps_the_scoring_weights_current() -> None:
    model = train([(_features(t), 1) for t in VARIANT] + [(_features(t), 0) for t in ORDINARY])
    text = "the council should publish the jade tea budget"
    before = _score(text, model)  # builds the dense copy the scorer reads
    model.update([(_features(text), 1)] * 3)
    fresh = LinearModel(model.version, model.bias, dict(model.weights), model.bits, dict(model.meta))
    assert _score(text, model) == pytest.approx(_score(text, fresh)) and _score(text, model) > before


@pytest.mark.parametrize(
    "opts", [TrainOptions(nb=True), TrainOptions(calibrate=True, folds=2), TrainOptions(balanced=False)]
)
def test_training_options_all_learn_the_variant(opts: TrainOptions) -> None:
    rows = [(_features(t), 1) for t in VARIANT[:4]] * 5 + [(_features(t), 0) for t in ORDINARY] * 5
    model = train(rows, options=opts)
    assert all(_score(t, model) > 0.5 for t in VARIANT[4:]) and all(_score(t, model) < 0.5 for t in ORDINARY)
    slope = model.meta["calibration"][0]
    assert 0 < slope <= 2.0  # capped: a steep slope would leave feedback no room


def test_signal_weights_stay_near_the_rules_and_text_weights_move() -> None:
    from streamproc.detect.model import PRIOR_HASH
    from streamproc.detect.ngrams import name_hash

    rows = [(_features(t), 1) for t in VARIANT] * 5 + [(_features(t), 0) for t in ORDINARY] * 5
    signal = name_hash("s:content.contact")
    free = train(rows, options=TrainOptions(structured_penalty=1.0), structured=[signal])
    held = train(rows, structured=[signal])
    prior = PRIOR_HASH & held.mask
    assert abs(held.weights[prior] - 1.0) < abs(free.weights[prior] - 1.0)
    assert held.weights.get(name_hash("w:lina") & held.mask, 0.0) > 0.1  # the variant's own words


def test_pruning_keeps_the_largest_weights() -> None:
    rows = [(_features(t), 1) for t in VARIANT] + [(_features(t), 0) for t in ORDINARY]
    model = train(rows, options=TrainOptions(max_weights=50))
    assert len(model.weights) <= 51  # the kept ones and the prior
    assert all(_score(t, model) > 0.5 for t in VARIANT)


def test_ham_verdicts_list_signals_but_no_learned_phrases() -> None:
    rows = [(_features(t), 1) for t in VARIANT] + [(_features(t), 0) for t in ORDINARY]
    model = train(rows * 10)
    text = "I drink green tea every morning, call me later"
    result = score_spam(_comment(text), {"links": assess_links(text)}, model=model)
    assert result.label == "ham"
    assert not [r for r in result.reasons if r.code.startswith("model.")]
