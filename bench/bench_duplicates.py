"""Benchmark of the duplicate stage core: throughput and index bytes per comment at 100k and 1M
comments in the window, and what the stream adds per comment (hops, messages, changelog writes).

    .venv/bin/python bench/bench_duplicates.py            # 100k (dict and RocksDB) and 1M (RocksDB)
    .venv/bin/python bench/bench_duplicates.py 100000:dict 200000     # sizes (and stores) of your choice
    .venv/bin/python bench/bench_duplicates.py 200000:dict:50000      # with a size budget: evictions too

The index lives in a dict (what `streamproc check` uses) or in RocksDB through rocksdict with JSON
values (what a Faust table with the rocksdb:// store does, minus the changelog). Comments come from
streamproc.gen.near_dups, so a third of them have near copies. Not a test: it prints figures.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from collections.abc import Iterator, MutableMapping
from dataclasses import replace
from typing import Any

import orjson
import rocksdict

from streamproc.detect.duplicates import (
    DuplicateConfig,
    is_empty,
    keys_by_partition,
    match_and_index,
    probe,
    remembered,
    verdict,
)
from streamproc.events import parse_time
from streamproc.gen.near_dups import generate


class RocksIndex(MutableMapping[str, Any]):
    """A str -> JSON mapping in RocksDB, as a Faust table with the rocksdb:// store keeps it."""

    def __init__(self, path: str) -> None:
        self.db = rocksdict.Rdict(path, rocksdict.Options(raw_mode=True))

    def __getitem__(self, key: str) -> Any:
        raw = self.db.get(key.encode())
        if raw is None:
            raise KeyError(key)
        return orjson.loads(raw)

    def get(self, key: str, default: Any = None) -> Any:
        raw = self.db.get(key.encode())
        return default if raw is None else orjson.loads(raw)

    def __setitem__(self, key: str, value: Any) -> None:
        self.db[key.encode()] = orjson.dumps(value)

    def __delitem__(self, key: str) -> None:
        del self.db[key.encode()]

    def __iter__(self) -> Iterator[str]:
        return (k.decode() for k in self.db)

    def __len__(self) -> int:
        return sum(1 for _ in self.db)

    def encoded_bytes(self) -> tuple[int, int]:
        n = size = 0
        for k, v in self.db.items():
            n += 1
            size += len(k) + len(v)
        return n, size


def dict_bytes(index: dict[str, Any]) -> tuple[int, int]:
    return len(index), sum(len(k) + len(orjson.dumps(v)) for k, v in index.items())


def run(n: int, store: str, config: DuplicateConfig) -> None:
    t0 = time.perf_counter()
    events = generate(n, seed=1).events
    gen_s = time.perf_counter() - t0
    tmp = tempfile.TemporaryDirectory(prefix="bench-dups-")
    index: Any = {} if store == "dict" else RocksIndex(tmp.name)
    labels: dict[str, int] = {}
    started = time.perf_counter()
    step = n // 10 if n >= 500_000 else 0  # progress: throughput as the index fills
    for i, e in enumerate(events, 1):
        if step and i % step == 0:
            secs = time.perf_counter() - started
            print(f"  {i:>9,} in {secs:6.0f} s  ({i / secs:,.0f} comments/s so far)", flush=True)
        if is_empty(e["text"]):
            labels["empty"] = labels.get("empty", 0) + 1
            continue
        p = probe(
            config, e["id"], e["author"]["id"], e["thread_id"], parse_time(e["posted_at"], "t"), e["text"]
        )
        result = verdict(p, match_and_index(index, p, p.keys, config) if p else ())
        labels[result.label] = labels.get(result.label, 0) + 1
    seconds = time.perf_counter() - started
    entries, size = dict_bytes(index) if store == "dict" else index.encoded_bytes()
    kept = remembered(index, 0)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    budget = f" budget {config.max_comments:,}" if config.max_comments < n else ""
    print(
        f"{n:>9,} comments  store={store:<7}{budget} {n / seconds:8,.0f} comments/s  "
        f"({seconds * 1e6 / n:5.0f} us each)  index: {kept:,} comments, {entries:,} entries, "
        f"{size / max(kept, 1):6.0f} bytes/comment (keys + JSON values)  labels={labels}  "
        f"gen {gen_s:.0f} s  max RSS {rss_mb:,.0f} MB",
        flush=True,
    )
    if store != "dict":
        index.db.close()
    tmp.cleanup()


def stream_costs(config: DuplicateConfig, n: int = 5000) -> None:
    """What each comment costs in the stream, beyond the core: Kafka messages and changelog writes."""
    events = generate(n, seed=2).events
    probes = [
        probe(config, e["id"], None, e["thread_id"], 0.0, e["text"])
        for e in events
        if not is_empty(e["text"])
    ]
    probes = [p for p in probes if p is not None]
    keys = len(probes[0].keys)
    print(f"stream costs per comment ({keys} index keys):")
    for partitions in (1, 2, 4, 8):
        shards = sum(len(keys_by_partition(p.keys, partitions)) for p in probes) / len(probes)
        joined = sum(len(keys_by_partition(p.keys, partitions)) > 1 for p in probes) / len(probes)
        # one shard message per involved partition, one reply each, the verdict; changelog: every
        # key; per involved partition a doc row, a log row and the log head; a join-table write per
        # reply when joined (the last one marks it done). Evictions later delete what was written.
        messages = shards + shards + 1
        changelog = keys + 3 * shards + (shards * joined)
        started = time.perf_counter()
        for p in probes[:2000]:
            for part, ks in keys_by_partition(p.keys, partitions).items():
                orjson.loads(
                    orjson.dumps({"id": p.sighting.comment_id, "n": part, "k": ks, "p": p.to_dict()})
                )
        codec_us = (time.perf_counter() - started) * 1e6 / min(2000, len(probes))
        print(
            f"  partitions={partitions}: {shards:.2f} shard messages, {messages:.2f} Kafka messages, "
            f"{changelog:.1f} changelog writes, joined {joined:.0%}, shard message codec {codec_us:.0f} us"
        )


def main(argv: list[str]) -> None:
    config = DuplicateConfig()
    print(
        f"MinHash k={config.params.k} bands={config.params.bands} rows={config.params.rows}, "
        f"threshold {config.threshold}, window {config.window:.0f} s, max {config.max_per_key} rows per key"
    )
    plans = [_plan(a) for a in argv] or [
        (100_000, "dict", 0),
        (100_000, "rocksdb", 0),
        (1_000_000, "rocksdb", 0),
    ]
    stream_costs(config)
    for n, store, budget in plans:
        run(n, store, replace(config, max_comments=budget) if budget else config)


def _plan(arg: str) -> tuple[int, str, int]:
    """N[:store[:budget]], e.g. 200000:dict:50000 (a budget below N measures eviction too)."""
    parts = arg.split(":")
    return int(parts[0]), parts[1] if len(parts) > 1 else "rocksdb", int(parts[2]) if len(parts) > 2 else 0


if __name__ == "__main__":
    main(sys.argv[1:])
