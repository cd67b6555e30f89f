"""The keyed state of a stage group, one partition at a time, as the stage cores see it.

A group keeps all its keyed state in one Faust table ("state", changelogged, RocksDB or memory),
partitioned like its input topic. Every key belongs to one partition (`topology.state_partition`,
or the duplicate index's own key grouping), and a partition's keys are read and written only by
the worker that owns that partition, one comment at a time:

- `Shard` is what the stage cores see of one partition: row lists by key (domain sightings,
  author activity) and the partition's duplicate index shard, over any byte mapping: in the
  stream a `tables.TablePartition` (one partition of the Faust table).
- `LocalState` is the same on dicts, for `streamproc check`, `eval` and the unit tests: one
  partition holding everything, as the stream has with one partition.

Nothing here imports Faust, so the offline tools start without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from streamproc.detect.duplicates import DuplicateConfig, DuplicateShard
from streamproc.topology import STATE_KINDS

Bytes = MutableMapping[bytes, bytes]


class PrefixView(MutableMapping[bytes, bytes]):
    """The keys of a mapping that start with `prefix`, with the prefix taken off."""

    def __init__(
        self, data: Bytes, prefix: bytes, scan: Callable[[bytes], Iterator[tuple[bytes, bytes]]]
    ) -> None:
        self.data = data
        self.prefix = prefix
        self._scan = scan

    def __getitem__(self, key: bytes) -> bytes:
        return self.data[self.prefix + key]

    def get(self, key: bytes, default: Any = None) -> Any:
        return self.data.get(self.prefix + key, default)

    def __contains__(self, key: object) -> bool:
        # Mapping's raises and catches a KeyError for each absent key, the usual answer here (the
        # duplicate index asks for the next arrival number once per comment; docs/performance.md).
        return isinstance(key, bytes) and self.data.get(self.prefix + key) is not None

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.data[self.prefix + key] = value

    def __delitem__(self, key: bytes) -> None:
        del self.data[self.prefix + key]

    def items(self) -> Iterator[tuple[bytes, bytes]]:  # type: ignore[override]
        n = len(self.prefix)
        for key, value in self._scan(self.prefix):
            yield key[n:], value

    def __iter__(self) -> Iterator[bytes]:
        return (k for k, _ in self.items())

    def __len__(self) -> int:
        return sum(1 for _ in self.items())


class Rows:
    """Row lists (JSON) under one key kind: what the campaign and author cores keep per key."""

    def __init__(self, data: Bytes, prefix: bytes) -> None:
        self.data = data
        self.prefix = prefix

    def get(self, key: str, default: Any = None) -> Any:
        raw = self.data.get(self.prefix + key.encode())
        return default if raw is None else orjson.loads(raw)

    def __getitem__(self, key: str) -> Any:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[self.prefix + key.encode()] = orjson.dumps(value)

    def __delitem__(self, key: str) -> None:
        del self.data[self.prefix + key.encode()]


@dataclass
class Shard:
    """One partition of a group's keyed state, as the stage cores use it."""

    partition: int
    data: Bytes
    scan: Callable[[bytes], Iterator[tuple[bytes, bytes]]]
    duplicate_config: DuplicateConfig
    derived: Bytes = field(default_factory=dict)  # local only: rebuilt from the records
    _duplicates: DuplicateShard | None = None

    def rows(self, kind: str) -> Rows:
        return Rows(self.data, STATE_KINDS[kind].prefix + b":")

    @property
    def duplicates(self) -> DuplicateShard:
        if self._duplicates is None:
            prefix = STATE_KINDS["index"].prefix + b"%d:" % self.partition
            records = PrefixView(self.data, prefix, self.scan)
            self._duplicates = DuplicateShard(self.duplicate_config, self.partition, records, self.derived)
            self._duplicates.rebuild()
        return self._duplicates


def _dict_scan(data: dict[bytes, bytes]) -> Callable[[bytes], Iterator[tuple[bytes, bytes]]]:
    def scan(prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return ((k, v) for k, v in list(data.items()) if k.startswith(prefix))

    return scan


class LocalState:
    """All keyed state in one dict: one partition (offline tools and tests)."""

    partitions = 1

    def __init__(self, duplicate_config: DuplicateConfig) -> None:
        self.data: dict[bytes, bytes] = {}
        self.shard = Shard(0, self.data, _dict_scan(self.data), duplicate_config)

    def local(self, partition: int) -> Shard:
        return self.shard
