"""`streamproc train` / `eval` / `model push`: file formats, columns, reports, errors (no broker)."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import orjson
import pytest

from streamproc.detect.model import LinearModel
from streamproc.errors import ConfigError
from streamproc.gen.labelled import labelled_corpus, write_csv, write_jsonl
from streamproc.training import Columns, evaluate, metrics_at, read_labelled, register_cli


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
    assert _run("train", str(data["csv"]), "-o", str(model_path), "--epochs", "3") == 0
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
