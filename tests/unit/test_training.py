"""`streamproc train` / `eval` / `model push`: file formats, columns, reports, errors (no broker)."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import orjson
import pytest

from streamproc.detect.model import LinearModel
from streamproc.errors import ConfigError
from streamproc.events import Reason, StageResult, comment_from_dict
from streamproc.gen.labelled import labelled_corpus, write_csv, write_jsonl
from streamproc.training import (
    Columns,
    Example,
    evaluate,
    metrics_at,
    read_labelled,
    reason_counts,
    register_cli,
    worst_false_positives,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamproc")
    register_cli(parser.add_subparsers(dest="command", required=True))
    return parser


def _run(*argv: str) -> int:
    args = _parser().parse_args(list(argv))
    return int(args.func(args))


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("labelled")
    rows = labelled_corpus(400, seed=7)
    paths = {"csv": root / "train.csv", "jsonl": root / "train.jsonl"}
    write_csv(rows, paths["csv"])
    write_jsonl(rows, paths["jsonl"])
    return paths


def test_csv_columns_are_found_as_in_public_collections(data: dict[str, Path]) -> None:
    examples = read_labelled(data["csv"], Columns())
    assert len(examples) == 400 and 0 < sum(e.label for e in examples) < 400
    assert examples[0].comment.author.name is None  # no --author-col given


def test_jsonl_comment_events_keep_their_fields(data: dict[str, Path]) -> None:
    examples = read_labelled(data["jsonl"], Columns())
    first = examples[0].comment
    assert first.thread_published_at is not None and first.author.name


def test_explicit_columns_and_label_value(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["body", "verdict", "who", "when"])
        w.writerow(["buy cheap pills", "junk", "Cheap Pills Shop", "2026-01-01T10:00:00Z"])
        w.writerow(["nice game last night", "ok", "tom", "2026-01-01T11:00:00"])
    cols = Columns(text="body", label="verdict", spam_value="junk", author="who", time="when")
    examples = read_labelled(path, cols)
    assert [e.label for e in examples] == [1, 0]
    assert examples[0].comment.author.name == "Cheap Pills Shop"
    assert examples[1].comment.posted_at == examples[0].comment.posted_at + 3600


@pytest.mark.parametrize(
    ("cols", "message"),
    [
        (Columns(text="nope"), "column 'nope' \\(--text-col\\) not in the data"),
        (Columns(label="nope"), "column 'nope' \\(--label-col\\) not in the data"),
    ],
)
def test_missing_columns_are_named(data: dict[str, Path], cols: Columns, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        read_labelled(data["csv"], cols)


def test_label_values_that_never_mean_spam_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("text,label\nbuy pills,junk\nhello,ok\n")
    with pytest.raises(ConfigError, match="values seen: junk, ok\\): pass --spam-value"):
        read_labelled(path, Columns())


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        read_labelled(tmp_path / "missing.csv", Columns())


def test_metrics_and_confusion_matrix() -> None:
    labels = [1, 1, 1, 0, 0, 0]
    scores = [0.9, 0.6, 0.2, 0.7, 0.1, 0.0]
    m = metrics_at(labels, scores, 0.5)
    assert m["confusion"] == {"tp": 2, "fp": 1, "fn": 1, "tn": 2}
    assert m["precision"] == pytest.approx(2 / 3, abs=1e-4) and m["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert [r["threshold"] for r in evaluate(labels, scores, [0.7, 0.3, 0.7])] == [0.3, 0.7]


def test_train_then_eval_json(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_path = tmp_path / "spam.model"
    assert _run("train", str(data["csv"]), "-o", str(model_path), "--iterations", "30") == 0
    model = LinearModel.from_bytes(model_path.read_bytes())
    assert model.version == 1 and model.trained
    capsys.readouterr()
    assert _run("eval", str(data["jsonl"]), "--model", str(model_path), "--json") == 0
    report = orjson.loads(capsys.readouterr().out)
    assert report["model_version"] == 1 and report["comments"] == 400
    rows = {r["threshold"]: r for r in report["thresholds"]}
    assert {0.5, 0.85} <= rows.keys()
    assert sum(rows[0.5]["confusion"].values()) == 400
    assert rows[0.5]["f1"] > 0.9  # on its own training data


def test_eval_table_without_model(data: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("eval", str(data["csv"])) == 0
    out = capsys.readouterr().out
    assert "scorer: rules" in out and "precision" in out and "recall" in out


def test_model_push_needs_brokers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STREAMPROC_BROKERS", raising=False)
    path = tmp_path / "m"
    path.write_bytes(LinearModel.untrained().to_bytes())
    with pytest.raises(ConfigError, match="STREAMPROC_BROKERS is not set"):
        _run("model", "push", str(path))


def _example(cid: str, text: str, label: int) -> Example:
    event = {"id": cid, "thread_id": "t", "text": text, "posted_at": "2026-01-01T00:00:00Z"}
    return Example(comment_from_dict(event), label)


def _result(score: float, *codes: str) -> StageResult:
    return StageResult("spam", "x", score, [Reason(c, c, 0.3, None) for c in codes])


def test_reason_counts_split_spam_and_ham_and_list_ham_firers_first() -> None:
    labels = [1, 1, 0, 0, 0]
    results = [
        _result(0.9, "content.prize", "link.present"),
        _result(0.8, "content.prize"),
        _result(0.6, "link.present"),
        _result(0.2, "link.present", "content.amount"),
        _result(0.1),
    ]
    rows = reason_counts(labels, results)
    assert rows == [
        {"code": "link.present", "spam": 1, "ham": 2},
        {"code": "content.amount", "spam": 0, "ham": 1},
        {"code": "content.prize", "spam": 2, "ham": 0},
    ]


def test_worst_false_positives_are_ham_at_hold_highest_first_and_cut_short() -> None:
    long_text = "word " * 60
    examples = [
        _example("a", "spam text", 1),
        _example("b", long_text, 0),
        _example("c", "ok", 0),
        _example("d", "fine\nthanks", 0),
    ]
    results = [_result(0.99, "x"), _result(0.7, "content.seo"), _result(0.4), _result(0.8, "content.claim")]
    worst = worst_false_positives(examples, results, 0.5, 10)
    assert [w["comment_id"] for w in worst] == ["d", "b"]  # spam and ham under hold are not listed
    assert worst[0]["text"] == "fine thanks" and worst[0]["reasons"][0]["code"] == "content.claim"
    assert len(worst[1]["text"]) <= 100 and worst[1]["text"].endswith("…")
    assert len(worst_false_positives(examples, results, 0.5, 1)) == 1


def test_eval_report_puts_the_configured_thresholds_first(
    data: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMPROC_HOLD_THRESHOLD", "0.45")
    monkeypatch.setenv("STREAMPROC_REJECT_THRESHOLD", "0.9")
    assert _run("eval", str(data["jsonl"]), "--worst", "3") == 0
    out = capsys.readouterr().out
    sections = [
        "at the configured thresholds",
        "threshold sweep",
        "reasons fired (on spam / on ham)",
        "worst false positives",
    ]
    positions = [out.find(s) for s in sections]
    assert -1 not in positions[:3] and positions[:3] == sorted(positions[:3])
    configured = out.split("threshold sweep")[0]
    assert "     hold      0.45" in configured and "   reject      0.90" in configured
    assert "content." in out.split("reasons fired")[1]


def test_eval_json_has_configured_reasons_and_false_positives(
    data: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("eval", str(data["jsonl"]), "--json") == 0
    report = orjson.loads(capsys.readouterr().out)
    hold = report["configured"]["hold"]
    assert hold["threshold"] == 0.5 and report["configured"]["reject"]["threshold"] == 0.85
    assert sum(hold["confusion"].values()) == report["comments"]
    assert all(r["spam"] + r["ham"] > 0 for r in report["reasons"])
    fired = {r["code"]: r for r in report["reasons"]}
    assert fired["content.seo"]["spam"] > fired["content.seo"]["ham"]
    fps = report["false_positives"]
    assert len(fps) == min(10, hold["confusion"]["fp"])
    assert [f["score"] for f in fps] == sorted((f["score"] for f in fps), reverse=True)
