"""The Faust table side of a group's state: one partition of the table as a byte mapping, and
the changelog sender.

- `TablePartition` reaches one partition of the Faust table from anywhere in the worker: it runs
  each read and write with a Faust event of that partition as the current event, which is what
  makes the table's store write that partition's RocksDB database, and it sends each write to
  that partition of the changelog itself (through `ChangelogSender`), keeping the futures
  (`take_writes`). (Faust ties table writes to the partition of the event being processed; the
  stream serves a comment's state on several partitions from one event.)
  tests/unit/test_state_faust.py pins the Faust behaviour relied on.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from faust.events import Event
from faust.streams import _current_event
from faust.types import TP
from faust.types.tuples import Message

READ_CACHE = 50_000  # keys (with their values, about 300 bytes each) cached per partition


Send = Callable[..., Any]  # (partition, key, value, key_serializer=, value_serializer=) -> future


class ChangelogSender:
    """A table's changelog writes to the producer, in the order they were made, every waiting
    one each time the sending task runs.

    Faust's own path (`Table.send_changelog`) goes through its producer buffer: while over 100
    writes wait there, Faust's conductor stops handing out every topic's messages (the inputs, and
    the state replies that comments in flight wait for), and each offset commit first flushes that
    buffer, which under steady writes keeps refilling (commits took 24-28 s under load). The
    stream awaits its writes itself (a comment's verdicts wait for its state to be durable), so
    neither wait buys anything. Everything else is Faust's: the message, its partition, and the
    callback that records the changelog offset in the table's store for recovery.
    """

    def __init__(self, table: Any) -> None:
        self.table = table
        self._queue: deque[Any] = deque()
        self._wake = asyncio.Event()

    def send(
        self,
        partition: int | None,
        key: bytes,
        value: bytes | None,
        key_serializer: Any = None,
        value_serializer: Any = None,
    ) -> Any:
        """`Table.send_changelog`, queued here instead of in Faust's producer buffer."""
        table = self.table
        fut = table.changelog_topic.as_future_message(
            key=key,
            value=value,
            partition=partition,
            key_serializer=table.key_serializer if key_serializer is None else key_serializer,
            value_serializer=table.value_serializer if value_serializer is None else value_serializer,
            callback=table._on_changelog_sent,
            eager_partitioning=True,
        )
        self._queue.append(fut)
        self._wake.set()
        return fut

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Hand every waiting write to the producer (the futures resolve once the brokers have them)."""
        while self._queue:
            fut = self._queue.popleft()
            try:
                await fut.message.channel.publish_message(fut, wait=False)
            except Exception as exc:  # refused at once: whoever awaits the write writes it again
                if not fut.done():
                    fut.set_exception(exc)

    def __len__(self) -> int:
        return len(self._queue)


class TablePartition(MutableMapping[bytes, bytes]):
    """One partition of a Faust table, reachable while processing any event.

    Reads go through a write-through cache of the partition's recently used keys (absent ones
    too): a comment reads dozens of duplicate records, mostly recent ones, and every write to the
    partition passes through this object while its worker owns it (a new owner, or the same one
    after a rebalance, starts with a new object, hence an empty cache).
    """

    def __init__(
        self, table: Any, topic: str, partition: int, cache_size: int = READ_CACHE, send: Send | None = None
    ) -> None:
        self.table = table
        self._send_changelog: Send = send or table.send_changelog  # ChangelogSender.send in the stream
        self.partition = partition
        message = Message(topic, partition, -1, 0.0, 0, None, None, None, None, tp=TP(topic, partition))
        self._event = Event(table.app, None, None, None, message)
        self._as_current = weakref.ref(self._event)  # Faust's current event: this partition's
        self._cache: OrderedDict[bytes, bytes | None] = OrderedDict()
        self._cache_size = cache_size
        self.writes: list[tuple[bytes, Any]] = []  # changelog writes not yet taken (take_writes)
        store = table.data
        self._db = store._db_for_partition(partition) if hasattr(store, "_db_for_partition") else None

    def __getitem__(self, key: bytes) -> bytes:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    def get(self, key: bytes, default: Any = None) -> Any:
        cache = self._cache
        if key in cache:
            cache.move_to_end(key)
            value = cache[key]
        else:
            # Straight from this partition's store: Faust's table layers cost more than the read.
            value = self._db.get(key) if self._db is not None else self.table.data.data.get(key)
            self._remember(key, value)
        return default if value is None else value

    def _remember(self, key: bytes, value: bytes | None) -> None:
        self._cache[key] = value
        self._cache.move_to_end(key)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, bytes) and self.get(key) is not None

    def _store(self, key: bytes, value: bytes | None) -> None:
        """Write (None: delete) `key` in this partition's store, as Faust's current event says.
        (The token is set and reset by hand: a contextmanager costs more than the write.)"""
        token = _current_event.set(self._as_current)
        try:
            if value is None:
                del self.table.data[key]
            else:
                self.table.data[key] = value
        finally:
            _current_event.reset(token)
        self._remember(key, value)

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._store(key, value)
        self.writes.append((key, self._send_changelog(self.partition, key, value)))

    def __delitem__(self, key: bytes) -> None:
        self._store(key, None)
        self.writes.append((key, self._send_delete(key)))

    def _send_delete(self, key: bytes) -> Any:
        return self._send_changelog(self.partition, key, None, value_serializer="raw")

    def take_writes(self) -> list[tuple[bytes, Any]]:
        """The changelog writes made since the last call, as (key, future) pairs: the future
        resolves when the brokers have the write. The stream publishes a comment's verdicts only
        once the writes made for it are durable, so that a comment read again after a crash finds
        what it wrote (and so gets the same verdict)."""
        writes, self.writes = self.writes, []
        return writes

    def write_again(self, key: bytes) -> Any:
        """Send the key's current value (or its deletion) to the changelog again."""
        value = self.get(key)
        if value is None:
            return self._send_delete(key)
        return self._send_changelog(self.partition, key, value)

    def __iter__(self) -> Iterator[bytes]:
        return (k for k, _ in self.scan(b""))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def scan(self, prefix: bytes, start: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """This partition's keys starting with `prefix` (from `start` on), in key order, from
        the store (RocksDB: its database of this partition; memory: every key, filtered, so keys
        that must be told apart by partition carry it, as the duplicate records do)."""
        store = self.table.data
        if hasattr(store, "_db_for_partition"):  # rocksdb://
            db = store._db_for_partition(self.partition)
            for key, value in db.items(from_key=start or prefix):
                if not key.startswith(prefix):
                    break
                if key != store.offset_key:
                    yield key, value
        else:  # memory://
            keys = sorted(k for k in list(store.data) if k.startswith(prefix) and k >= (start or prefix))
            yield from ((k, store.data[k]) for k in keys if k in store.data)
