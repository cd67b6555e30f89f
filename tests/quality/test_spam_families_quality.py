"""Untrained rules on link-free message spam and on video-comment spam, family by family, and a
cross-family test: a model trained on some families must not make the others worse.

All figures are on the generators' `test` phrasing (the rules were written looking at `dev`).
Run with `pytest -s` to see them. Sizes are reduced by default; STREAMPROC_QUALITY_FULL=1 runs
the sizes quoted in docs/spam.md.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

from streamproc.config import Settings
from streamproc.gen.labelled import Labelled
from streamproc.gen.messages import HAM_FAMILIES, message_corpus
from streamproc.gen.video import video_corpus
from streamproc.training import Example, fit, labelled_examples, metrics_at, score_examples

SETTINGS = Settings(store="memory://")
HOLD = SETTINGS.hold_threshold
FULL = os.environ.get("STREAMPROC_QUALITY_FULL") == "1"
N = 4000 if FULL else 1500

# Targets of issue 12 for the untrained defaults (held-out public sets decide; these are the
# project's stand-ins for them).
MESSAGES_P, MESSAGES_R = 0.97, 0.50
VIDEO_P, VIDEO_R = 0.98, 0.75


def _judge(rows: list[Labelled], thread: str) -> tuple[list[Example], list[float]]:
    examples = labelled_examples(rows, text_only=True, thread=thread)
    return examples, score_examples(examples, SETTINGS, None)


def _by_family(rows: list[Labelled], scores: list[float]) -> dict[str, tuple[int, float]]:
    total, flagged = (
        Counter(r.kind for r in rows),
        Counter(r.kind for r, s in zip(rows, scores, strict=True) if s >= HOLD),
    )
    return {kind: (n, flagged[kind] / n) for kind, n in sorted(total.items())}


def _print(name: str, examples: list[Example], scores: list[float], rows: list[Labelled]) -> dict[str, float]:
    m = metrics_at([e.label for e in examples], scores, HOLD)
    print(
        f"\n{name}: {len(rows)} comments, P={m['precision']:.3f} R={m['recall']:.3f} F1={m['f1']:.3f} {m['confusion']}"
    )
    for kind, (n, rate) in _by_family(rows, scores).items():
        print(
            f"  {kind:<18} n={n:<5} {'recall' if kind not in HAM_FAMILIES and kind != 'ham' else 'flagged'} {rate:.3f}"
        )
    return m


def test_untrained_rules_catch_link_free_message_spam() -> None:
    rows = message_corpus(N, seed=21, split="test")
    examples, scores = _judge(rows, "messages")
    m = _print("messages, untrained rules (test phrasing)", examples, scores, rows)
    assert m["precision"] >= MESSAGES_P and m["recall"] >= MESSAGES_R
    families = _by_family(rows, scores)
    # Each family is caught on its own, not only on average.
    assert all(rate >= 0.5 for kind, (_, rate) in families.items() if kind not in HAM_FAMILIES)
    # No ordinary topic (prizes, numbers, calls, money…) is flagged more than rarely.
    assert all(rate <= 0.02 for kind, (_, rate) in families.items() if kind in HAM_FAMILIES)


def test_untrained_rules_catch_video_comment_spam() -> None:
    rows = video_corpus(N, seed=22, split="test")
    examples, scores = _judge(rows, "video")
    m = _print("video comments, untrained rules (test phrasing)", examples, scores, rows)
    assert m["precision"] >= VIDEO_P and m["recall"] >= VIDEO_R
    assert _by_family(rows, scores)["ham"][1] <= 0.01


@pytest.mark.parametrize(
    ("corpus", "taught", "judged"),
    [
        ("messages", ("prize", "premium", "claim", "subscription"), ("selected", "urgency", "money")),
        ("video", ("channel", "follow", "music_promo"), ("promo", "money", "link_drop")),
    ],
)
def test_training_on_some_families_does_not_hurt_the_others(
    corpus: str, taught: tuple[str, ...], judged: tuple[str, ...]
) -> None:
    def make(families: tuple[str, ...], split: str, seed: int) -> list[Labelled]:
        if corpus == "messages":
            return message_corpus(N // 2, seed=seed, split=split, spam_families=families)
        return video_corpus(N // 2, seed=seed, split=split, spam_families=families)

    train = labelled_examples(make(taught, "dev", 31), text_only=True, thread=corpus)
    rows = make(judged, "test", 32)
    held = labelled_examples(rows, text_only=True, thread=corpus)
    labels = [e.label for e in held]
    rules = metrics_at(labels, score_examples(held, SETTINGS, None), HOLD)
    model = fit(train, SETTINGS)
    trained = metrics_at(labels, score_examples(held, SETTINGS, model), HOLD)
    print(
        f"\n{corpus}: trained on {', '.join(taught)}; judged on {', '.join(judged)}\n"
        f"  rules:   P={rules['precision']:.3f} R={rules['recall']:.3f} F1={rules['f1']:.3f}\n"
        f"  trained: P={trained['precision']:.3f} R={trained['recall']:.3f} F1={trained['f1']:.3f}"
    )
    assert trained["precision"] >= 0.97
    assert trained["f1"] >= rules["f1"] - 0.02  # what it learned about some families must not
    # cost the ones it never saw
