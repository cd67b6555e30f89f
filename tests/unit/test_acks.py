"""Acknowledging in reading order: why (Faust commits past one open offset) and how."""

from __future__ import annotations

from dataclasses import dataclass

import faust
from faust.types import TP

from streamproc.acks import InOrderAcks


def test_faust_commits_past_a_single_open_offset_when_acks_come_out_of_order() -> None:
    """The reason acks.py exists: with 46 open and 47, 48 acknowledged, faust-streaming 0.15.3
    commits 49. If this starts failing, Faust fixed it (acks.py can then be reconsidered)."""
    app = faust.App("t-acks", autodiscover=False, web_enabled=False)
    consumer = app.consumer
    tp = TP("comments", 0)
    consumer._committed_offset[tp] = 46  # everything before 46 is done
    consumer._acked[tp] = [47, 48]
    assert consumer._new_offset(tp) == 49


@dataclass(eq=False)
class Msg:
    partition: int
    offset: int


def _queue() -> tuple[InOrderAcks[Msg], list[int]]:
    acked: list[int] = []
    return InOrderAcks(lambda m: acked.append(m.offset), lambda m: m.partition), acked


def test_a_message_is_acknowledged_only_after_every_earlier_one_of_its_partition() -> None:
    acks, acked = _queue()
    a, b, c, other = Msg(0, 46), Msg(0, 47), Msg(0, 48), Msg(1, 5)
    for m in (a, b, c, other):
        acks.read(m)
    assert acks.finished(b) == 0 and acks.finished(c) == 0 and acked == []  # 46 still open
    assert acks.finished(other) == 1 and acked == [5]  # another partition is not held up
    assert acks.finished(a) == 3 and acked == [5, 46, 47, 48]
    assert len(acks) == 0


def test_a_rebalance_forgets_everything_and_late_finishes_are_ignored() -> None:
    acks, acked = _queue()
    a, b = Msg(0, 1), Msg(0, 2)
    acks.read(a)
    acks.read(b)
    assert acks.clear() == 2
    assert acks.finished(a) == 0 and acks.finished(b) == 0 and acked == []


def test_offsets_need_not_be_consecutive() -> None:
    acks, acked = _queue()
    first, after_a_gap = Msg(0, 10), Msg(0, 14)  # compaction or transaction markers in between
    acks.read(first)
    acks.read(after_a_gap)
    acks.finished(first)
    acks.finished(after_a_gap)
    assert acked == [10, 14]
