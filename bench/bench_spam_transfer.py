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
from collections.abc import Callable
from typing import Any

from streamproc.config import Settings
from streamproc.gen.labelled import Labelled
from streamproc.gen.sources import TEXT_ONLY, corpus_sources, video_sources
from streamproc.training import Example, fit, labelled_examples, leave_one_source_out

SETTINGS = Settings(store="memory://")
Fitter = Callable[[list[Example]], Any]


def examples(sources: dict[str, list[Labelled]]) -> dict[str, list[Example]]:
    return {
        name: labelled_examples(rows, text_only=name in TEXT_ONLY, thread=name)
        for name, rows in sources.items()
    }


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
            "NB scaling": TrainOptions(nb=True),
            "Platt calibration": TrainOptions(calibrate=True),
            "NB and calibration": TrainOptions(nb=True, calibrate=True),
            "no class weights": TrainOptions(balanced=False),
            "C=1": TrainOptions(c=1.0),
            "C=16": TrainOptions(c=16.0),
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
        "videos": (examples(video_sources(n, "dev", 100)), examples(video_sources(n, "test", 200))),
        "corpora": (examples(corpus_sources(n, "dev", 300)), examples(corpus_sources(n, "test", 400))),
    }
    if args.setting:
        settings = {args.setting: settings[args.setting]}
    for name, fitter in variants(args.variants).items():
        for setting, (train_src, judge_src) in settings.items():
            start = time.perf_counter()
            per, pooled = leave_one_source_out(train_src, judge_src, SETTINGS, fitter)
            took = time.perf_counter() - start
            detail = "  ".join(f"{k}: {_fmt(m)}" for k, m in per.items())
            print(f"{name:<20} {setting:<8} pooled {_fmt(pooled)}   ({took:.0f} s)")
            print(f"{'':<29} {detail}")


if __name__ == "__main__":
    main()
