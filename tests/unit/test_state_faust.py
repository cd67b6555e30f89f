"""What tables.TablePartition relies on in Faust: a table write made while another partition's
event is being processed goes to the changelog partition and the RocksDB database of the
partition named, and reads and prefix scans see only that partition. An upgrade of
faust-streaming that changes this turns these tests red."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.events import Event
from faust.streams import _current_event
from faust.types.tuples import Message

from streamproc.tables import ChangelogSender, TablePartition


@pytest.fixture(params=["rocksdb://", "memory://"])
def table(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    app = faust.App(
        "t-state", store=request.param, datadir=str(tmp_path), autodiscover=False, web_enabled=False
    )
    table = app.Table("state", key_type=bytes, value_type=bytes, partitions=4)
    sent: list[tuple[int | None, bytes, bytes | None]] = []

    def record(partition: int | None, key: bytes, value: bytes | None, *args: Any, **kw: Any) -> Any:
        sent.append((partition, key, value))
        return SimpleNamespace(message=SimpleNamespace(partition=partition))  # Faust reads this back

    table.send_changelog = record  # what Faust hands to its producer, recorded
    table.sent = sent
    return table


def _processing(app: faust.App, partition: int) -> Any:
    """Make an event of `partition` the current one, as a stream does while processing it."""
    import weakref

    message = Message("in", partition, 7, 0.0, 0, None, None, None, None)
    event = Event(app, None, None, None, message)
    return _current_event.set(weakref.ref(event)), event


def test_writes_go_to_the_named_partition_whatever_event_is_being_processed(table: Any) -> None:
    token, _ = _processing(table.app, 0)
    try:
        view = TablePartition(table, "in", 3)
        view[b"c:example.com"] = b"[1]"
        del view[b"c:example.com"]
        view[b"d3:x"] = b"v"
    finally:
        _current_event.reset(token)
    assert table.sent == [(3, b"c:example.com", b"[1]"), (3, b"c:example.com", None), (3, b"d3:x", b"v")]
    assert TablePartition(table, "in", 3).get(b"d3:x") == b"v"
    store = table.data
    if hasattr(store, "_db_for_partition"):
        assert store._db_for_partition(3).get(b"d3:x") == b"v"
        assert store._db_for_partition(0).get(b"d3:x") is None


def test_a_prefix_scan_sees_one_partition_in_key_order(table: Any) -> None:
    for partition, key in ((1, b"d1:b"), (1, b"d1:a"), (2, b"d2:a"), (1, b"a:x")):
        TablePartition(table, "in", partition)[key] = key
    view = TablePartition(table, "in", 1)
    assert [k for k, _ in view.scan(b"d1:")] == [b"d1:a", b"d1:b"]
    assert [k for k, _ in view.scan(b"d1:", start=b"d1:b")] == [b"d1:b"]
    assert [k for k, _ in view.scan(b"c:")] == []


async def test_the_changelog_sender_hands_writes_to_the_producer_in_order_with_faust_s_callback(
    table: Any,
) -> None:
    sender = ChangelogSender(table)
    published: list[Any] = []
    failing = {b"bad"}

    async def publish_message(fut: Any, wait: bool = False) -> None:
        assert not wait
        if fut.message.key in failing:
            raise ConnectionError("refused")
        published.append(fut)

    table.changelog_topic.publish_message = publish_message
    view = TablePartition(table, "in", 2, send=sender.send)
    view[b"a:x"] = b"1"
    view[b"bad"] = b"2"
    del view[b"a:x"]
    assert len(sender) == 3 and published == []  # queued, not yet handed over
    await sender.flush()
    assert [(f.message.partition, f.message.key, f.message.value) for f in published] == [
        (2, b"a:x", b"1"),
        (2, b"a:x", None),
    ]
    assert all(f.message.callback == table._on_changelog_sent for f in published)  # recovery offsets
    writes = dict(view.take_writes())  # the refused write's future carries the error
    assert isinstance(writes[b"bad"].exception(), ConnectionError)
    assert len(sender) == 0
