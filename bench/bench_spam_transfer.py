"""Leave-one-source-out quality of the trained spam model on the project's corpora: train on
every source but one, judge the one left out, at the hold threshold. Prints figures; not a test
(tests/quality/test_spam_transfer.py runs a reduced version with assertions).

Two settings:
- videos: the made-up music videos of gen/video.py, trained on the other videos' `dev`
  phrasing, judged on the held-out video's `test` phrasing (like training on four videos of a
  public comment collection and judging the fifth);
- corpora: news comments (gen/labelled.py), short messages (gen/messages.py) and video
  comments: trained on two, judged on the third.

    .venv/bin/python bench/bench_spam_transfer.py [--per-source N] [--variants]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any

from streamproc.config import Settings
from streamproc.events import comment_from_dict
from streamproc.gen.labelled import (
    HELDOUT_NICHES,
    HELDOUT_TOPICS,
    TRAIN_NICHES,
    TRAIN_TOPICS,
    labelled_corpus,
)
from streamproc.gen.messages import message_corpus
from streamproc.gen.video import SOURCES, video_corpus
from streamproc.training import Example, fit, metrics_at, score_examples

SETTINGS = Settings(store="memory://")
Fitter = Callable[[list[Example]], Any]


def text_only(rows: Sequence[Any], thread: str) -> list[Example]:
    """As `streamproc eval` reads a CSV with only text and label columns."""
    return [
        Example(
            comment_from_dict(
                {"id": r.id, "thread_id": thread, "text": r.text, "posted_at": "2020-01-01T00:00:00+00:00"}
            ),
            int(r.label == "spam"),
        )
        for r in rows
    ]


def video_sources(n: int, split: str, seed: int) -> dict[str, list[Example]]:
    out = {}
    for k, src in enumerate(SOURCES):
        rows = video_corpus(n, seed=seed + k, split=split, sources=[src], prefix=f"{src.name}-{split}")
        out[src.name] = text_only(rows, src.name)
    return out


def corpus_sources(n: int, split: str, seed: int) -> dict[str, list[Example]]:
    topics, niches = (TRAIN_TOPICS, TRAIN_NICHES) if split == "dev" else (HELDOUT_TOPICS, HELDOUT_NICHES)
    news = labelled_corpus(n, seed=seed, topics=topics, niches=niches, prefix=f"news-{split}")
    return {
        "news": [Example(comment_from_dict(r.to_event()), int(r.label == "spam")) for r in news],
        "messages": text_only(
            message_corpus(n, seed=seed + 1, split=split, prefix=f"msg-{split}"), "messages"
        ),
        "video": text_only(video_corpus(n, seed=seed + 2, split=split, prefix=f"vid-{split}"), "video"),
    }


def leave_one_out(
    train_sources: dict[str, list[Example]], judge_sources: dict[str, list[Example]], fitter: Fitter | None
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Per held-out source metrics at the hold threshold, and all held-out predictions pooled."""
    hold = SETTINGS.hold_threshold
    per: dict[str, dict[str, Any]] = {}
    labels: list[int] = []
    scores: list[float] = []
    for name, judged in judge_sources.items():
        model = None
        if fitter is not None:
            model = fitter([e for other, ex in train_sources.items() if other != name for e in ex])
        s = score_examples(judged, SETTINGS, model)
        y = [e.label for e in judged]
        per[name] = metrics_at(y, s, hold)
        labels += y
        scores += s
    return per, metrics_at(labels, scores, hold)


def _fmt(m: dict[str, Any]) -> str:
    return f"P={m['precision']:.3f} R={m['recall']:.3f} F1={m['f1']:.3f}"


def variants(with_options: bool) -> dict[str, Fitter | None]:
    out: dict[str, Fitter | None] = {
        "rules (untrained)": None,
        "trained (defaults)": lambda ex: fit(ex, SETTINGS),
    }
    if with_options:
        from streamproc.detect.learn import TrainOptions

        for label, opts in {
            "no NB scaling": TrainOptions(nb=False),
            "no calibration": TrainOptions(calibrate=False),
            "no class weights": TrainOptions(balanced=False),
            "C=1": TrainOptions(c=1.0),
            "C=16": TrainOptions(c=16.0),
            "no NB, no calibration": TrainOptions(nb=False, calibrate=False),
            "signals free": TrainOptions(structured_penalty=1.0),
        }.items():
            out[label] = lambda ex, o=opts: fit(ex, SETTINGS, options=o)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-source", type=int, default=400, help="comments per source (400)")
    parser.add_argument("--variants", action="store_true", help="also train with other options")
    parser.add_argument("--setting", choices=("videos", "corpora"), help="only this setting")
    args = parser.parse_args()
    n = args.per_source
    settings = {
        "videos": (video_sources(n, "dev", 100), video_sources(n, "test", 200)),
        "corpora": (corpus_sources(n, "dev", 300), corpus_sources(n, "test", 400)),
    }
    if args.setting:
        settings = {args.setting: settings[args.setting]}
    for name, fitter in variants(args.variants).items():
        for setting, (train_src, judge_src) in settings.items():
            start = time.perf_counter()
            per, pooled = leave_one_out(train_src, judge_src, fitter)
            took = time.perf_counter() - start
            detail = "  ".join(f"{k}: {_fmt(m)}" for k, m in per.items())
            print(f"{name:<20} {setting:<8} pooled {_fmt(pooled)}   ({took:.0f} s)")
            print(f"{'':<29} {detail}")


if __name__ == "__main__":
    main()
