"""Throughput of the link stage core alone (no Kafka): µs per comment and comments/s on the demo
stream, ordinary prose with and without links, link-heavy comments and non-English text, plus the
worst case of the linear-time inputs in ms per KB. Prints figures; not a test.

Times are this process's CPU time (other jobs on a shared machine stretch the wall clock, not
the work done). They still vary between runs, so compare implementations inside one run:
`--against REV` loads the link core of a git revision (links, urls, deobfuscate, campaigns and
the data files) beside the working tree's and measures both in alternating rounds; the ratio
column is what to quote.

    .venv/bin/python bench/bench_links.py                    # this tree
    .venv/bin/python bench/bench_links.py --against 8d4a28d  # and the same figures for a revision
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamproc.gen.demo import generate  # noqa: E402
from tests.unit.detect.test_links_safety import PATHOLOGICAL  # noqa: E402

PROSE = (
    "the article makes a good point about local elections and I think the council should listen "
    "more carefully to what residents said at the meeting last week although some of the numbers "
    "quoted seem a little off compared to the figures from the previous year e.g. the budget was "
    "4.5 million and not 5.2 as claimed in version 2.0 of the report"
)
WORDS = PROSE.split()
LINKS = [
    "https://www.example-news.com/2026/01/council-budget?ref=home",
    "see example.org/report.pdf",
    "https://bit.ly/3xYzAbC",
    "www.cheap-pills-online.xyz",
    '<a href="https://shop.example.co.uk/item?id=42&amp;src=c">deal</a>',
    "[source](https://en.wikipedia.org/wiki/Budget_(finance))",
    "visit bestdeals dot com",
]
# Link drops as spammers write them: many links, several forms, little text.
HEAVY = [
    "hxxps://deals-{n}[.]example.net/offer", "http__promo{n}.example.org/x", "tcp://relay{n}.example.com:8080",
    "<shop{n}.example.com/p>", "Cheap-Pills{n}.Com", "http://✪{n}.ws/go", "cheap{n}.blogspot.com",
    "https://t.co/a{n}b", "//cdn{n}.example.net/x.js", "buy{n} dot example dot com",
]  # fmt: skip
# Made-up non-English comments: curly quotes and an ellipsis, Cyrillic, Japanese with `。`.
FOREIGN = [
    "I don’t think the council’s “plan” is fair… it’s rushed — nobody asked the people on {n} Street.",
    "Хорошая статья, спасибо. Совет должен был спросить жителей улицы {n} до того, как решать.",
    "記事を読みました。{n}番地の住民にもっと話を聞くべきだと思います。来週の会議に期待します。",
]


def prose(rng: random.Random, links: list[str], count: int, size: int = 300) -> str:
    out: list[str] = []
    length = 0
    link_at = {rng.randrange(5, 40) for _ in range(count)}
    i = 0
    while length < size:
        piece = rng.choice(links).format(n=rng.randint(1, 99)) if i in link_at else rng.choice(WORDS)
        if rng.random() < 0.08:
            piece += "."
        out.append(piece)
        length += len(piece) + 1
        i += 1
    return " ".join(out)[:size] if not count else " ".join(out)


def drop(rng: random.Random) -> str:
    """A link drop: 6-10 links of several forms, with a word or two between them."""
    pieces = []
    for _ in range(rng.randint(6, 10)):
        pieces.append(rng.choice(HEAVY).format(n=rng.randint(1, 99)))
        pieces += rng.sample(WORDS, rng.randint(0, 2))
    return " ".join(pieces)


def corpora() -> dict[str, list[str]]:
    rng = random.Random(7)
    return {
        "demo stream (5,000 comments)": [e["text"] for e in generate(5000).events],
        "prose, no links": [prose(rng, LINKS, 0) for _ in range(500)],
        "prose, 1-2 links": [prose(rng, LINKS, rng.choice((1, 1, 2))) for _ in range(500)],
        "link drops, 6-10 links": [drop(rng) for _ in range(300)],
        "non-English, no links": [rng.choice(FOREIGN).format(n=rng.randint(1, 99)) for _ in range(500)],
    }


def load_revision(rev: str) -> ModuleType:
    """The link core of git revision `rev` as a package of its own (its data files included),
    imported beside the working tree's."""
    name = "links_" + "".join(c if c.isalnum() else "_" for c in rev)
    base = Path(tempfile.mkdtemp(prefix="bench_links_"))
    atexit.register(shutil.rmtree, base, ignore_errors=True)
    pkg = base / name
    (pkg / "detect").mkdir(parents=True)
    (pkg / "data").mkdir()
    for part in ("__init__.py", "detect/__init__.py"):
        (pkg / part).write_text("")

    def show(path: str) -> bytes:
        return subprocess.run(
            ["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True
        ).stdout

    for module in ("links", "urls", "deobfuscate", "campaigns"):
        code = show(f"streamproc/detect/{module}.py").decode()
        code = code.replace("streamproc.detect.", f"{name}.detect.").replace(
            'files("streamproc")', f'files("{name}")'
        )
        (pkg / "detect" / f"{module}.py").write_text(code)
    listing = subprocess.run(
        ["git", "ls-tree", "--name-only", rev, "streamproc/data/"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode()
    for path in listing.split():
        (pkg / "data" / Path(path).name).write_bytes(show(path))
    sys.path.insert(0, str(base))
    return importlib.import_module(f"{name}.detect.links")


def per_comment(run: Callable[[str], object], texts: list[str], seconds: float) -> float:
    """Seconds per comment over whole passes of `texts` lasting at least `seconds`."""
    done = 0
    start = time.process_time()
    while True:
        for text in texts:
            run(text)
        done += len(texts)
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return elapsed / done


def worst_case(assess: Callable[[str], object]) -> tuple[str, float]:
    """The slowest of the linear-time test's 1 MB inputs, in ms per KB."""
    worst = ("", 0.0)
    for name, text in PATHOLOGICAL:
        start = time.process_time()
        assess(text)
        ms_per_kb = (time.process_time() - start) * 1000 / (len(text.encode()) / 1024)
        worst = max(worst, (name, ms_per_kb), key=lambda w: w[1])
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=1.0, help="time per round (1)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="alternating rounds per figure; median kept (5)"
    )
    parser.add_argument("--against", metavar="REV", help="also measure the link core of this git revision")
    parser.add_argument("--no-worst", action="store_true", help="skip the 1 MB worst-case inputs")
    args = parser.parse_args()

    links = importlib.import_module("streamproc.detect.links")
    impls = {"tree": links}
    if args.against:
        impls[args.against] = load_revision(args.against)
    for impl in impls.values():  # warm up: PSL load, caches
        impl.assess_links("warm up example.com and http://x.org/a", impl.DomainLists())

    # The whole links stage as `check` runs it: findings plus campaign state, on the demo stream
    # with its own comment ids, authors, threads and times.
    events = generate(5000).events
    stamps = [datetime.fromisoformat(e["posted_at"].replace("Z", "+00:00")).timestamp() for e in events]

    def stage_pass() -> float:
        state: dict[str, object] = {}
        start = time.process_time()
        for event, now in zip(events, stamps, strict=True):
            found = links.assess_links(event["text"])
            links.add_campaign(
                found,
                state,
                comment_id=event["id"],
                author=event["author"]["id"],
                thread_id=event["thread_id"],
                now=now,
            )
        return (time.process_time() - start) / len(events)

    # The first pass sees every URL for the first time (parsing and PSL lookups, as a stream of
    # new spam links would); later passes hit the caches.
    cold = stage_pass()
    warm = statistics.median(stage_pass() for _ in range(args.rounds))
    print("whole links stage (findings + campaign state) on the demo stream, tree only; µs/comment")
    print(
        f"  first pass, caches cold {cold * 1e6:8.1f} ({1 / cold:,.0f}/s)   later passes {warm * 1e6:8.1f} ({1 / warm:,.0f}/s)"
    )

    print(
        f"link core alone, one process, CPU time, median of {args.rounds} rounds of {args.seconds:g} s;"
        " µs/comment (comments/s)"
    )
    print(
        f"{'corpus':32s}" + "".join(f"{name:>22s}" for name in impls) + ("   ratio" if args.against else "")
    )
    for label, texts in corpora().items():
        times: dict[str, list[float]] = {name: [] for name in impls}
        for _ in range(args.rounds):
            for name, impl in impls.items():
                lists = impl.DomainLists(deny=frozenset({"cheap-pills-online.xyz"}))
                times[name].append(
                    per_comment(lambda t, i=impl, li=lists: i.assess_links(t, li), texts, args.seconds)
                )
        medians = {name: statistics.median(ts) for name, ts in times.items()}
        row = "".join(f"{m * 1e6:12.1f} ({1 / m:7,.0f})" for m in medians.values())
        ratio = f"  {medians[args.against] / medians['tree']:5.2f}x" if args.against else ""
        # What each implementation finds on the corpus: a core that finds more links does more.
        found = " / ".join(
            f"{sum(len(i.assess_links(t).data['links']) for t in texts) / len(texts):.2f}"
            for i in impls.values()
        )
        print(f"{label:32s}{row}{ratio}   links/comment {found}")

    if not args.no_worst:
        for name, impl in impls.items():
            case, ms = worst_case(impl.assess_links)
            print(f"worst 1 MB input, {name}: {ms:.2f} ms/KB ({case})")


if __name__ == "__main__":
    main()
