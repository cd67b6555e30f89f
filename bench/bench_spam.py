"""Throughput of the spam core (signals + score + explanation), rules alone and with a trained
model, on the generated labelled corpus. Prints figures; not a test.

    .venv/bin/python bench/bench_spam.py [N]
"""

from __future__ import annotations

import gc
import sys
import time
from typing import Any

from streamproc.config import Settings
from streamproc.events import Envelope, comment_from_dict
from streamproc.gen.labelled import HELDOUT_NICHES, HELDOUT_TOPICS, labelled_corpus
from streamproc.pipeline import StageLogic
from streamproc.training import Example, fit

REPEATS = 3


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    settings = Settings(store="memory://")
    rows = labelled_corpus(n, seed=3, topics=HELDOUT_TOPICS, niches=HELDOUT_NICHES)
    comments = [comment_from_dict(r.to_event()) for r in rows]
    train_rows = labelled_corpus(2000, seed=4)
    model = fit(
        [Example(comment_from_dict(r.to_event()), int(r.label == "spam")) for r in train_rows], settings
    )

    # The upstream stages run once, outside the timed part: this measures the spam core only.
    logic = StageLogic(settings)
    history: dict[str, Any] = {}
    envs = []
    for c in comments:
        env = Envelope(c, {}, 0.0)
        env.stages["links"] = logic.links(env)
        env.stages["duplicates"] = logic.duplicates(env, history)
        envs.append(env)

    print(f"spam core, {n} comments (mean {sum(len(c.text) for c in comments) / n:.0f} chars)")
    for name, m in (("rules only", None), (f"learned model v{model.version}", model)):
        best = float("inf")
        for _ in range(REPEATS):  # best of a few: the machine is shared
            logic = StageLogic(settings)
            if m is not None:
                logic.spam_model = m
            authors: dict[str, Any] = {}
            gc.collect()
            start = time.perf_counter()
            for env in envs:
                logic.spam(env, authors)
            best = min(best, time.perf_counter() - start)
        print(f"  {name:<22} {n / best:>9,.0f} comments/s   {best / n * 1e6:>7.1f} us/comment")


if __name__ == "__main__":
    main()
