"""Author activity answers are idempotent under re-delivery, also for an author who posted more
than the bounded history holds before the comment was read again."""

from __future__ import annotations

from streamproc.detect.duplicates import DuplicateConfig
from streamproc.detect.features import MAX_AUTHOR_ROWS, stale_authors
from streamproc.stages.spam import MAX_AUTHOR_ANSWERS, apply_author
from streamproc.stages.stage import ApplyContext
from streamproc.state import LocalState

CTX = ApplyContext(wall=1e9)


def test_a_comment_read_again_gets_its_first_answer_after_its_row_left_the_history() -> None:
    shard = LocalState(DuplicateConfig()).shard
    first = {f"c{i}": apply_author(shard, ["bot", f"c{i}", 1000.0 + i], CTX) for i in range(8)}
    for i in range(8, 8 + MAX_AUTHOR_ROWS * 2):  # the first rows leave the history
        apply_author(shard, ["bot", f"c{i}", 1000.0 + i], CTX)
    rows = shard.rows("authors")["bot"]
    assert len([r for r in rows if r[1] is not None]) == MAX_AUTHOR_ROWS
    for cid, answer in first.items():
        assert apply_author(shard, ["bot", cid, 1000.0 + int(cid[1:])], CTX) == answer


def test_answers_are_bounded_and_do_not_keep_an_author_alive() -> None:
    shard = LocalState(DuplicateConfig()).shard
    for i in range(MAX_AUTHOR_ROWS + MAX_AUTHOR_ANSWERS + 50):
        apply_author(shard, ["bot", f"c{i}", 1000.0 + i], CTX)
    rows = shard.rows("authors")["bot"]
    assert len(rows) == MAX_AUTHOR_ROWS + MAX_AUTHOR_ANSWERS
    assert stale_authors([("bot", rows)], now=1e12) == ["bot"]
    assert stale_authors([("bot", rows)], now=2000.0) == []
