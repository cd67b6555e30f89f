"""Training and evaluation of the spam model from labelled files (`train`, `eval`, `model push`).

Both run the same stage code as the stream (pipeline.OfflinePipeline: every stage) over the file in
time order, so the model learns from the very signals it will see in production. No broker is
needed except for `model push`, which publishes a model file on the compacted model topic.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from streamproc.config import Settings, load_settings
from streamproc.detect.features import AuthorActivity
from streamproc.detect.learn import TrainOptions, train
from streamproc.detect.model import LinearModel
from streamproc.detect.ngrams import name_hash
from streamproc.detect.spam import SpamInput, spam_input
from streamproc.errors import ConfigError, DecodeError
from streamproc.events import Comment, Envelope, StageResult, comment_from_dict
from streamproc.gen.labelled import Labelled

EVAL_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9)
WORST_FALSE_POSITIVES = 10  # ham listed by `eval`, highest score first
TEXT_PREVIEW = 100  # characters of a comment shown in the eval report
TEXT_COLUMNS = ("text", "CONTENT", "content", "comment", "body", "message")
LABEL_COLUMNS = ("label", "CLASS", "class", "is_spam", "spam")
SPAM_VALUES = ("spam", "1", "true", "True")
EPOCH = "2020-01-01T00:00:00+00:00"  # posted_at for rows without a usable time


@dataclass(slots=True)
class Columns:
    text: str | None = None
    label: str | None = None
    spam_value: str | None = None
    author: str | None = None
    time: str | None = None


@dataclass(slots=True)
class Example:
    comment: Comment
    label: int  # 1 spam, 0 ham


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    try:
        if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
            with path.open("rb") as fh:
                for number, line in enumerate(fh, 1):
                    if line.strip():
                        try:
                            obj = orjson.loads(line)
                        except orjson.JSONDecodeError as exc:
                            raise ConfigError(f"{path}:{number}: not valid JSON: {exc}") from None
                        if not isinstance(obj, dict):
                            raise ConfigError(f"{path}:{number}: each line must be a JSON object")
                        yield obj
        else:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                yield from csv.DictReader(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None


def _pick(row: dict[str, Any], given: str | None, candidates: Sequence[str], what: str, flag: str) -> str:
    if given:
        if given not in row:
            raise ConfigError(
                f"column {given!r} ({flag}) not in the data; columns: {', '.join(map(str, row))}"
            )
        return given
    for name in candidates:
        if name in row:
            return name
    raise ConfigError(f"no {what} column found (tried {', '.join(candidates)}): pass {flag}")


def _time(value: Any) -> str:
    """An RFC 3339 time from a column, or the fixed epoch when it has none we can read."""
    if isinstance(value, str) and value:
        v = value if ("+" in value[10:] or value.endswith(("Z", "z"))) else value + "+00:00"
        try:
            comment_from_dict({"id": "x", "thread_id": "x", "text": "", "posted_at": v})
            return v
        except DecodeError:
            return EPOCH
    return EPOCH


def read_labelled(path: Path, cols: Columns) -> list[Example]:
    """Labelled comments from CSV (e.g. CONTENT/CLASS columns) or JSONL (comment events with a
    label field, or any objects with text and label fields)."""
    out: list[Example] = []
    text_col = label_col = ""
    spam_values: tuple[str, ...] = ()
    seen: set[str] = set()
    for i, row in enumerate(_rows(path)):
        if i == 0:
            text_col = _pick(row, cols.text, TEXT_COLUMNS, "text", "--text-col")
            label_col = _pick(row, cols.label, LABEL_COLUMNS, "label", "--label-col")
            spam_values = (cols.spam_value,) if cols.spam_value is not None else SPAM_VALUES
        text, raw_label = row.get(text_col), row.get(label_col)
        if raw_label is None or raw_label == "":
            raise ConfigError(f"{path}: row {i + 1} has no value in label column {label_col!r}")
        label = 1 if str(raw_label).strip() in spam_values or raw_label is True else 0
        seen.add(str(raw_label).strip()[:40])
        comment: Comment | None = None
        if {"id", "thread_id", "posted_at"} <= row.keys() and text_col == "text":
            try:
                comment = comment_from_dict({k: v for k, v in row.items() if k != label_col})
            except DecodeError:
                comment = None
        if comment is None:
            author = row.get(cols.author) if cols.author else None
            event = {
                "id": str(row.get("id") or row.get("COMMENT_ID") or f"row-{i + 1}"),
                "thread_id": str(row.get("thread_id") or path.stem),
                "text": "" if text is None else str(text),
                "posted_at": _time(row.get(cols.time)) if cols.time else EPOCH,
            }
            if author:
                event["author"] = {"id": str(author), "name": str(author)}
            try:
                comment = comment_from_dict(event)
            except DecodeError as exc:
                raise ConfigError(f"{path}: row {i + 1}: {exc}") from None
        out.append(Example(comment, label))
    if not out:
        raise ConfigError(f"{path} holds no labelled rows")
    if not any(e.label for e in out):
        raise ConfigError(
            f"{path}: no row of column {label_col!r} means spam (looked for {', '.join(spam_values)}; "
            f"values seen: {', '.join(sorted(seen)[:10])}): pass --spam-value"
        )
    return out


def _pipeline(settings: Settings, model: LinearModel | None) -> Any:
    from streamproc.pipeline import OfflinePipeline

    pipeline = OfflinePipeline(settings)
    if model is not None:
        pipeline.stage("spam").model = model
    return pipeline


def _in_time_order(examples: Sequence[Example]) -> list[Example]:
    return sorted(examples, key=lambda e: e.comment.posted_at)  # stable: file order within a time


def judge_examples(
    examples: Sequence[Example], settings: Settings, model: LinearModel | None
) -> list[StageResult]:
    """The spam stage's result for each example, in the given order, as the stream computes it
    (all stages run over the examples in time order)."""
    pipeline = _pipeline(settings, model)
    results: dict[int, StageResult] = {}
    for ex in _in_time_order(examples):
        env = Envelope(ex.comment, {}, 0.0)
        pipeline.run(env)
        results[id(ex)] = env.stages["spam"]
    return [results[id(ex)] for ex in examples]


def score_examples(examples: Sequence[Example], settings: Settings, model: LinearModel | None) -> list[float]:
    """The spam score of each example, in the given order, as the stream would compute it."""
    return [r.score for r in judge_examples(examples, settings, model)]


def spam_inputs(examples: Sequence[Example], settings: Settings) -> list[SpamInput]:
    """The spam stage's input for each example, in the given order, with the signals the stream
    computes (links, duplicates and author state run over the examples in time order)."""
    pipeline = _pipeline(settings, None)
    inputs: dict[int, SpamInput] = {}
    for ex in _in_time_order(examples):
        env = Envelope(ex.comment, {}, 0.0)
        done = pipeline.run(env)  # links, duplicates and the author state, as the stream has them
        author = done.answers.get("spam") or []
        activity = AuthorActivity(*author[0]) if author else None
        inputs[id(ex)] = spam_input(ex.comment, env.stages, activity)
    return [inputs[id(ex)] for ex in examples]


def fit(
    examples: Sequence[Example], settings: Settings, *, options: TrainOptions | None = None
) -> LinearModel:
    """Train a model from labelled examples, with the signals the stream computes."""
    inputs = spam_inputs(examples, settings)
    rows = [(inp.vector, ex.label) for inp, ex in zip(inputs, examples, strict=True)]
    signals = {name_hash(name) for inp in inputs for name in inp.names if name.startswith("s:")}
    # Threads stand for sources: calibration folds keep each thread whole.
    groups = [ex.comment.thread_id for ex in examples]
    return train(rows, options=options, structured=signals, groups=groups)


def labelled_examples(
    rows: Sequence[Labelled], *, text_only: bool, thread: str = "labelled"
) -> list[Example]:
    """Examples from generated rows: whole comment events, or (`text_only`) only the text in
    one thread at one time, as `eval` reads a CSV with text and label columns alone."""
    if not text_only:
        return [Example(comment_from_dict(r.to_event()), int(r.label == "spam")) for r in rows]
    return [
        Example(
            comment_from_dict({"id": r.id, "thread_id": thread, "text": r.text, "posted_at": EPOCH}),
            int(r.label == "spam"),
        )
        for r in rows
    ]


def leave_one_source_out(
    train_sources: Mapping[str, Sequence[Example]],
    judge_sources: Mapping[str, Sequence[Example]],
    settings: Settings,
    fitter: Callable[[list[Example]], LinearModel] | None,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """For each source: train on the other sources of `train_sources` (no training when
    `fitter` is None: the rules), judge the source in `judge_sources` at the hold threshold.
    Returns the figures per source and over all judged comments pooled."""
    hold = settings.hold_threshold
    per: dict[str, dict[str, Any]] = {}
    labels: list[int] = []
    scores: list[float] = []
    for name, judged in judge_sources.items():
        model = None
        if fitter is not None:
            model = fitter([e for other, ex in train_sources.items() if other != name for e in ex])
        s = score_examples(judged, settings, model)
        y = [e.label for e in judged]
        per[name] = metrics_at(y, s, hold)
        labels += y
        scores += s
    return per, metrics_at(labels, scores, hold)


def metrics_at(labels: Sequence[int], scores: Sequence[float], threshold: float) -> dict[str, Any]:
    tp = sum(1 for y, s in zip(labels, scores, strict=True) if y and s >= threshold)
    fp = sum(1 for y, s in zip(labels, scores, strict=True) if not y and s >= threshold)
    fn = sum(1 for y, s in zip(labels, scores, strict=True) if y and s < threshold)
    tn = len(labels) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "threshold": threshold,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
    }


def evaluate(
    labels: Sequence[int], scores: Sequence[float], thresholds: Sequence[float]
) -> list[dict[str, Any]]:
    return [metrics_at(labels, scores, t) for t in sorted(set(thresholds))]


def reason_counts(labels: Sequence[int], results: Sequence[StageResult]) -> list[dict[str, Any]]:
    """How often each reason code fired on spam and on ham, the codes that fire on ham first
    (those are the rules a moderator would look at)."""
    counts: dict[str, list[int]] = {}
    for y, result in zip(labels, results, strict=True):
        for code in {r.code for r in result.reasons}:
            counts.setdefault(code, [0, 0])[0 if y else 1] += 1
    rows = [{"code": code, "spam": s, "ham": h} for code, (s, h) in counts.items()]
    rows.sort(key=lambda r: (-r["ham"], -r["spam"], r["code"]))
    return rows


def worst_false_positives(
    examples: Sequence[Example], results: Sequence[StageResult], threshold: float, limit: int
) -> list[dict[str, Any]]:
    """The highest-scored ham at or above `threshold`, with their reasons and text cut short."""
    ham = [
        (r.score, e, r)
        for e, r in zip(examples, results, strict=True)
        if not e.label and r.score >= threshold
    ]
    ham.sort(key=lambda t: (-t[0], t[1].comment.id))
    return [
        {
            "comment_id": e.comment.id,
            "score": round(score, 4),
            "text": cut(e.comment.text),
            "reasons": [
                {"code": r.code, "weight": round(r.weight, 3), "evidence": r.evidence} for r in res.reasons
            ],
        }
        for score, e, res in ham[:limit]
    ]


def cut(text: str, limit: int = TEXT_PREVIEW) -> str:
    """One line of at most `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def eval_report(
    examples: Sequence[Example],
    results: Sequence[StageResult],
    *,
    hold: float,
    reject: float,
    sweep: Sequence[float] = EVAL_THRESHOLDS,
    worst: int = WORST_FALSE_POSITIVES,
) -> dict[str, Any]:
    """What `streamproc eval` reports: the figures at the configured hold and reject thresholds,
    the sweep, per-reason counts and the worst false positives at hold."""
    labels = [e.label for e in examples]
    scores = [r.score for r in results]
    return {
        "comments": len(examples),
        "spam": sum(labels),
        "configured": {
            "hold": metrics_at(labels, scores, hold),
            "reject": metrics_at(labels, scores, reject),
        },
        "thresholds": evaluate(labels, scores, [*sweep, hold, reject]),
        "reasons": reason_counts(labels, results),
        "false_positives": worst_false_positives(examples, results, hold, worst),
    }


# --- CLI -----------------------------------------------------------------------------------------
def _columns(args: argparse.Namespace) -> Columns:
    return Columns(args.text_col, args.label_col, args.spam_value, args.author_col, args.time_col)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(store="memory://")


def cmd_train(args: argparse.Namespace) -> int:
    examples = read_labelled(Path(args.data), _columns(args))
    settings = _settings(args)
    options = TrainOptions(
        c=args.c, iterations=args.iterations, calibrate=not args.no_calibrate, seed=args.seed
    )
    model = fit(examples, settings, options=options)
    model.meta["source"] = Path(args.data).name
    data = model.to_bytes()
    try:
        Path(args.output).write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"cannot write model to {args.output}: {exc}") from None
    spam = sum(e.label for e in examples)
    print(
        f"trained on {len(examples)} comments ({spam} spam, {len(examples) - spam} ham): "
        f"model version {model.version}, {len(model.weights)} weights, {len(data)} bytes -> {args.output}"
    )
    return 0


def load_model_file(path: str) -> LinearModel:
    try:
        return LinearModel.from_bytes(Path(path).read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read model {path}: {exc}") from None


def cmd_eval(args: argparse.Namespace) -> int:
    examples = read_labelled(Path(args.data), _columns(args))
    settings = _settings(args)
    model = load_model_file(args.model) if args.model else None
    results = judge_examples(examples, settings, model)
    report = {
        "data": str(args.data),
        "model": args.model or "rules",
        "model_version": model.version if model else 0,
        **eval_report(
            examples,
            results,
            hold=settings.hold_threshold,
            reject=settings.reject_threshold,
            worst=args.worst,
        ),
    }
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print(format_report(report))
    return 0


def _metrics_line(name: str, r: dict[str, Any]) -> str:
    c = r["confusion"]
    return (
        f"{name:>9} {r['threshold']:>9.2f} {r['precision']:>9.3f} {r['recall']:>7.3f} {r['f1']:>6.3f} "
        f"{c['tp']:>6} {c['fp']:>6} {c['fn']:>6} {c['tn']:>6}"
    )


def format_report(report: dict[str, Any]) -> str:
    """The eval report as a moderator reads it: configured thresholds, sweep, reasons, worst
    false positives."""
    header = f"{'':>9} {'threshold':>9} {'precision':>9} {'recall':>7} {'f1':>6} {'tp':>6} {'fp':>6} {'fn':>6} {'tn':>6}"
    lines = [
        f"{report['comments']} comments, {report['spam']} spam; scorer: {report['model']}",
        "",
        "at the configured thresholds",
        header,
        _metrics_line("hold", report["configured"]["hold"]),
        _metrics_line("reject", report["configured"]["reject"]),
        "",
        "threshold sweep",
        header,
        *(_metrics_line("", r) for r in report["thresholds"]),
        "",
        "reasons fired (on spam / on ham)",
        f"{'code':<28} {'spam':>6} {'ham':>6}",
        *(f"{r['code']:<28} {r['spam']:>6} {r['ham']:>6}" for r in report["reasons"]),
        "",
    ]
    hold = report["configured"]["hold"]["threshold"]
    fps = report["false_positives"]
    if not fps:
        lines.append(f"no ham scored at or above hold ({hold:.2f})")
    else:
        lines.append(f"worst false positives (ham at or above hold {hold:.2f}, highest first)")
        for fp in fps:
            why = ", ".join(
                f"{r['code']} {r['weight']:.2f}" + (f" ({r['evidence']})" if r["evidence"] else "")
                for r in fp["reasons"]
            )
            lines.append(f"  {fp['score']:.3f}  {fp['comment_id']}  {fp['text']}")
            lines.append(f"         {why or 'no reasons'}")
    return "\n".join(lines)


def cmd_model_push(args: argparse.Namespace) -> int:
    import asyncio

    from streamproc.clients import publish_model

    model = load_model_file(args.model)
    settings = load_settings(brokers=args.brokers)
    if not settings.brokers:
        raise ConfigError("STREAMPROC_BROKERS is not set: pass --brokers host:port or set it")
    version = asyncio.run(publish_model(settings, model, bump=True))
    print(f"published model version {version} to {settings.topics.model} on {settings.brokers}")
    return 0


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", help="labelled CSV or JSONL (.jsonl) file")
    p.add_argument("--text-col", help="column with the comment text (default: text or CONTENT)")
    p.add_argument("--label-col", help="column with the label (default: label or CLASS)")
    p.add_argument("--spam-value", help="label value meaning spam (default: spam or 1)")
    p.add_argument("--author-col", help="column with the author name (optional)")
    p.add_argument("--time-col", help="column with the RFC 3339 posting time (optional)")


def register_cli(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `train`, `eval` and `model` subcommands."""
    p = sub.add_parser("train", help="train the spam model from a labelled file (no broker)")
    _data_args(p)
    p.add_argument("-o", "--output", required=True, help="model file to write")
    defaults = TrainOptions()
    p.add_argument(
        "--c", type=float, default=defaults.c, help=f"inverse regularisation strength ({defaults.c})"
    )
    p.add_argument(
        "--iterations",
        type=int,
        default=defaults.iterations,
        help=f"optimiser iterations ({defaults.iterations})",
    )
    p.add_argument("--no-calibrate", action="store_true", help="skip Platt calibration of the scores")
    p.add_argument("--seed", type=int, default=0, help="seed of the calibration folds (0)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="precision, recall and F1 of the spam score on a labelled file")
    _data_args(p)
    p.add_argument("--model", help="model file from `train` (default: the rules alone)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--worst", type=int, default=WORST_FALSE_POSITIVES, help="false positives to list (10)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("model", help="manage the spam model shared by the workers")
    msub = p.add_subparsers(dest="model_command", required=True)
    push = msub.add_parser("push", help="publish a model file to the workers (via the model topic)")
    push.add_argument("model", help="model file from `train`")
    push.add_argument("--brokers", help="bootstrap servers (default: STREAMPROC_BROKERS)")
    push.set_defaults(func=cmd_model_push)
