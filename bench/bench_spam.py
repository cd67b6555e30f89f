"""Cost of the spam core per comment (author state, signals, score, explanation), rules alone
and with a trained model, on the demo stream and on the labelled corpus. Prints figures; not a
test. Docs: docs/spam.md ("Speed").

The machine is shared: times are CPU seconds of whole passes, in alternating rounds, and the
median is printed; "rules 1st" is the single first pass over a corpus, before any round has
filled the caches (compiled patterns, author names). `--against REV` loads the spam core of a git revision (detect/spam.py and
the modules it owns at that revision) beside the working tree's and measures both in the same
rounds; the ratio column is what to quote. `--profile` prints a pyinstrument profile of the
tree's core with the model instead (needs the `profile` extra).

    .venv/bin/python bench/bench_spam.py                    # this tree
    .venv/bin/python bench/bench_spam.py --against 8d4a28d  # and the same for a revision
    .venv/bin/python bench/bench_spam.py --profile
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from streamproc.config import Settings
from streamproc.detect.decide import Thresholds
from streamproc.events import Comment, Envelope, StageResult, comment_from_dict
from streamproc.gen.demo import generate
from streamproc.gen.labelled import HELDOUT_NICHES, HELDOUT_TOPICS, labelled_corpus
from streamproc.pipeline import OfflinePipeline

ROOT = Path(__file__).resolve().parent.parent
# The spam core's own modules; a revision may lack the newer ones.
OWN = ("spam", "features", "model", "decide", "content", "signal", "ngrams", "learn")
Item = tuple[Comment, dict[str, StageResult]]


def load_revision(rev: str) -> ModuleType:
    """The spam core of git revision `rev` as a package of its own, imported beside the tree's
    (events and text normalisation come from the tree)."""
    name = "spam_" + "".join(c if c.isalnum() else "_" for c in rev)
    base = Path(tempfile.mkdtemp(prefix="bench_spam_"))
    (base / name / "detect").mkdir(parents=True)
    for part in ("__init__.py", "detect/__init__.py"):
        (base / name / part).write_text("")
    present = subprocess.run(
        ["git", "ls-tree", "--name-only", rev, "streamproc/detect/"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    own = [m for m in OWN if f"streamproc/detect/{m}.py" in present.split()]
    for module in own:
        code = subprocess.run(
            ["git", "show", f"{rev}:streamproc/detect/{module}.py"], cwd=ROOT, check=True, capture_output=True
        ).stdout.decode()
        for other in own:
            code = code.replace(f"streamproc.detect.{other} ", f"{name}.detect.{other} ")
            code = code.replace(f"streamproc.detect.{other}\n", f"{name}.detect.{other}\n")
        (base / name / "detect" / f"{module}.py").write_text(code)
    sys.path.insert(0, str(base))
    return importlib.import_module(f"{name}.detect.spam")


def trained_model(spam: ModuleType, train_items: list[tuple[Item, int]]) -> Any:
    """A model trained by the given core's own trainer on the same examples."""
    package = spam.__name__.rsplit(".", 1)[0]
    rows = [(spam.spam_input(c, stages, None).features, y) for (c, stages), y in train_items]
    try:
        learn = importlib.import_module(f"{package}.learn")
    except ModuleNotFoundError:  # before detect/learn.py the trainer lived in model.py
        return importlib.import_module(f"{package}.model").train(rows)
    return learn.train(rows)


def make_run(spam: ModuleType, model: Any) -> Callable[[list[Item]], None]:
    features = importlib.import_module(spam.__name__.rsplit(".", 1)[0] + ".features")
    thresholds = Thresholds()

    def run(items: list[Item]) -> None:
        authors: dict[str, Any] = {}
        for c, stages in items:
            activity = None
            if c.author_key:
                activity, authors[c.author_key] = features.observe_author(
                    authors.get(c.author_key, []), c.id, c.posted_at
                )
            spam.score_spam(c, stages, model=model, activity=activity, thresholds=thresholds)

    return run


def upstream(comments: list[Comment]) -> list[Item]:
    """The links and duplicates results each comment reaches the spam stage with (run once)."""
    pipeline = OfflinePipeline(Settings(store="memory://"))
    items = []
    for c in comments:
        env = Envelope(c, {}, 0.0)
        pipeline.run(env)
        items.append((c, {name: env.stages[name] for name in ("links", "duplicates")}))
    return items


def per_comment(run: Callable[[list[Item]], None], items: list[Item], seconds: float) -> float:
    done = 0
    start = time.process_time()
    while True:
        run(items)
        done += len(items)
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return elapsed / done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", metavar="REV", help="also measure the spam core of this git revision")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (5)")
    parser.add_argument("--seconds", type=float, default=1.0, help="CPU seconds per measurement (1)")
    parser.add_argument("--profile", action="store_true", help="profile the tree's core with the model")
    args = parser.parse_args()

    corpora = {
        "demo stream (5000)": upstream([comment_from_dict(e) for e in generate(5000).events]),
        "labelled, held-out topics (3000)": upstream(
            [comment_from_dict(r.to_event()) for r in labelled_corpus(3000, seed=3, topics=HELDOUT_TOPICS, niches=HELDOUT_NICHES)]
        ),
    }  # fmt: skip
    train_rows = labelled_corpus(2000, seed=4)
    train_comments = upstream([comment_from_dict(r.to_event()) for r in train_rows])
    train_items = list(zip(train_comments, (int(r.label == "spam") for r in train_rows), strict=True))

    impls = {"tree": importlib.import_module("streamproc.detect.spam")}
    if args.against:
        impls[args.against] = load_revision(args.against)
    runs: dict[tuple[str, str], Callable[[list[Item]], None]] = {}
    for name, spam in impls.items():
        runs[(name, "rules")] = make_run(spam, None)
        runs[(name, "model")] = make_run(spam, trained_model(spam, train_items))

    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
        per_comment(runs[("tree", "model")], corpora["demo stream (5000)"], 5.0)
        profiler.stop()
        print(profiler.output_text(show_all=False))
        return

    header = f"{'corpus':34s}{'scorer':10s}" + "".join(f"{n:>16s}" for n in impls)
    print(header + ("     ratio" if args.against else "") + "   (µs per comment, CPU time, median)")

    def row(label: str, scorer: str, us: dict[str, float]) -> None:
        ratio = f"   {us[args.against] / us['tree']:6.2f}x" if args.against else ""
        print(f"{label:34s}{scorer:10s}" + "".join(f"{us[n]:16.1f}" for n in impls) + ratio)

    for label, items in corpora.items():
        # One pass before any round: what `streamproc check` or a fresh worker pays, caches
        # filled as it goes (the rounds after it measure warm caches).
        first = {}
        for n in impls:
            start = time.process_time()
            runs[(n, "rules")](items)
            first[n] = (time.process_time() - start) / len(items) * 1e6
        row(label, "rules 1st", first)
        for scorer in ("rules", "model"):
            times: dict[str, list[float]] = {n: [] for n in impls}
            for _ in range(args.rounds):
                for n in impls:
                    times[n].append(per_comment(runs[(n, scorer)], items, args.seconds))
            row(label, scorer, {n: statistics.median(t) * 1e6 for n, t in times.items()})


if __name__ == "__main__":
    main()
