"""Benchmark of the duplicate stage core: throughput, durable and derived bytes per comment, and
rebuild time, at 100k and 1M comments in the window; and what the stream adds per comment.

    .venv/bin/python bench/bench_duplicates.py                     # 100k: dict, then RocksDB stores
    .venv/bin/python bench/bench_duplicates.py 100000:dict:dict    # N:records store:derived store
    .venv/bin/python bench/bench_duplicates.py 200000:dict:dict:50000   # with a size budget
    .venv/bin/python bench/bench_duplicates.py 1000000:dict:dict   # 1M (by hand: minutes, ~3 GB)
    .venv/bin/python bench/bench_duplicates.py --against 8d4a28d 100000   # old core vs this one
    .venv/bin/python bench/bench_duplicates.py --against 2b30cd4 demo.jsonl  # on a file, e.g. from
    #                                          python -m streamproc.gen.demo 5000 > demo.jsonl

`--against REV` loads that revision's duplicates core (detect/duplicates.py, minhash.py, text.py via
`git show`) and runs it and this one on the same comments in alternating blocks of 1,000, so that
the load of a shared machine falls on both alike: read the ratio.

Stores: `dict` (what `streamproc check` uses), or `rocksdb` (rocksdict with raw bytes, as a Faust
table with raw serializers and the rocksdb:// store keeps them, minus the changelog). Comments come
from streamproc.gen.near_dups (a third have near copies; median 170 characters). Probing
(normalise, signature, band keys) and matching are timed apart; "core" is both. Not a test.
"""

from __future__ import annotations

import importlib
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson
import rocksdict

from streamproc.detect.duplicates import (
    DuplicateConfig,
    DuplicateShard,
    Probe,
    is_empty,
    keys_by_partition,
    probe,
    verdict,
)
from streamproc.errors import DecodeError
from streamproc.events import decode_comment, parse_time
from streamproc.gen.near_dups import generate


class RocksStore(MutableMapping[bytes, bytes]):
    """bytes -> bytes in RocksDB, as a Faust rocksdb:// table with raw serializers keeps them."""

    def __init__(self, path: str) -> None:
        self.db = rocksdict.Rdict(path, rocksdict.Options(raw_mode=True))

    def __getitem__(self, key: bytes) -> bytes:
        raw = self.db.get(key)
        if raw is None:
            raise KeyError(key)
        return raw  # type: ignore[no-any-return]

    def get(self, key: bytes, default: Any = None) -> Any:
        raw = self.db.get(key)
        return default if raw is None else raw

    def __contains__(self, key: object) -> bool:
        return self.db.get(key) is not None

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.db[key] = value

    def __delitem__(self, key: bytes) -> None:
        del self.db[key]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.db.keys())

    def items(self) -> Any:
        return self.db.items()

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def keys(self) -> Any:
        return self.db.keys()


def store_bytes(store: MutableMapping[bytes, bytes]) -> tuple[int, int]:
    n = size = 0
    for k, v in store.items():
        n += 1
        size += len(k) + len(v)
    return n, size


def _store(kind: str, tmp: str, name: str) -> MutableMapping[bytes, bytes]:
    return {} if kind == "dict" else RocksStore(f"{tmp}/{name}")


def run(n: int, records_kind: str, derived_kind: str, budget: int) -> None:
    config = DuplicateConfig(max_comments=budget) if budget else DuplicateConfig()
    t0 = time.perf_counter()
    events = generate(n, seed=1).events
    gen_s = time.perf_counter() - t0
    tmp = tempfile.TemporaryDirectory(prefix="bench-dups-")
    shard = DuplicateShard(
        config, 0, _store(records_kind, tmp.name, "r"), _store(derived_kind, tmp.name, "d")
    )
    labels: dict[str, int] = {}
    probe_s = match_s = 0.0
    step = n // 10 if n >= 500_000 else 0  # progress: throughput as the index fills
    started = time.perf_counter()
    for i, e in enumerate(events, 1):
        if step and i % step == 0:
            secs = time.perf_counter() - started
            print(f"  {i:>9,} in {secs:6.0f} s  ({i / secs:,.0f} comments/s so far)", flush=True)
        if is_empty(e["text"]):
            labels["empty"] = labels.get("empty", 0) + 1
            continue
        a = time.perf_counter()
        p = probe(
            config, e["id"], e["author"]["id"], e["thread_id"], parse_time(e["posted_at"], "t"), e["text"]
        )
        b = time.perf_counter()
        result = verdict(p, shard.match_and_index(p, p.keys) if p else ())
        match_s += time.perf_counter() - b
        probe_s += b - a
        labels[result.label] = labels.get(result.label, 0) + 1
    kept = shard.remembered()
    r_entries, r_size = store_bytes(shard.records)
    d_entries, d_size = store_bytes(shard.derived)
    rebuild_started = time.perf_counter()
    rebuilt = shard.rebuild()
    rebuild_s = time.perf_counter() - rebuild_started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    core = n / (probe_s + match_s)
    print(
        f"{n:>9,} comments  records={records_kind} derived={derived_kind}"
        f"{f' budget {budget:,}' if budget else ''}: core {core:7,.0f} comments/s "
        f"(probe {probe_s * 1e6 / n:4.0f} us + match {match_s * 1e6 / n:4.0f} us each); "
        f"{kept:,} comments held: records {r_size / kept:4.0f} B/comment ({r_entries:,} entries), "
        f"derived {d_size / kept:4.0f} B/comment ({d_entries:,} entries), "
        f"total {(r_size + d_size) / kept:4.0f} B; rebuild {rebuild_s:5.1f} s "
        f"({rebuild_s * 100_000 / max(rebuilt, 1):4.1f} s per 100k); labels={labels}; "
        f"gen {gen_s:.0f} s; max RSS {rss_mb:,.0f} MB",
        flush=True,
    )
    for store in (shard.records, shard.derived):
        if isinstance(store, RocksStore):
            store.db.close()
    tmp.cleanup()


def stream_costs(config: DuplicateConfig, n: int = 5000) -> None:
    """What each comment costs in the stream beyond the core: shard messages, Probe bytes on the
    wire, and changelog writes (one record per involved shard; evictions delete them later)."""
    events = generate(n, seed=2).events
    probes: list[Probe] = [
        p
        for e in events
        if not is_empty(e["text"]) and (p := probe(config, e["id"], None, e["thread_id"], 0.0, e["text"]))
    ]
    wire = sum(len(p.to_bytes()) for p in probes) / len(probes)
    text = sum(len(p.text) for p in probes) / len(probes)
    print(
        f"stream costs per comment ({len(probes[0].keys)} index keys; Probe.to_bytes() {wire:.0f} bytes on "
        f"average, {text:.0f} of them the compressed text):"
    )
    for partitions in (1, 2, 4, 8):
        shards = sum(len(keys_by_partition(p.keys, partitions)) for p in probes) / len(probes)
        print(
            f"  partitions={partitions}: {shards:.2f} shards involved -> {shards:.2f} shard requests, "
            f"{shards:.2f} changelog writes (records) + the same in deletes once evicted"
        )


def _load_revision(rev: str, where: str) -> Any:
    """That revision's duplicates core as a package of its own (its imports rewritten to it)."""
    package = f"{where}/baseline_core"
    subprocess.run(["mkdir", "-p", package], check=True)
    for name in ("duplicates", "minhash", "text"):
        source = subprocess.run(
            ["git", "show", f"{rev}:streamproc/detect/{name}.py"], check=True, capture_output=True, text=True
        ).stdout
        source = re.sub(r"streamproc\.detect\.(duplicates|minhash|text)", r"baseline_core.\1", source)
        with open(f"{package}/{name}.py", "w") as f:
            f.write(source)
    open(f"{package}/__init__.py", "w").close()
    sys.path.insert(0, where)
    return importlib.import_module("baseline_core.duplicates")


def _rows(source: str) -> list[tuple[str, str | None, str, float, str]]:
    """Comments as the core takes them: N from gen.near_dups, or a JSONL file of comments (e.g. a
    demo stream, as `streamproc check` reads it; lines that do not decode are skipped)."""
    if not source.endswith(".jsonl"):
        events = generate(int(source), seed=1).events
        return [
            (e["id"], e["author"]["id"], e["thread_id"], parse_time(e["posted_at"], "t"), e["text"])
            for e in events
        ]
    rows = []
    with open(source, "rb") as f:
        for line in f:
            try:
                c = decode_comment(line)
            except DecodeError:
                continue
            rows.append((c.id, c.author_key, c.thread_id, c.posted_at, c.text))
    return rows


def against(rev: str, source: str, block: int = 1000) -> None:
    """The old core and this one on the same comments, alternating blocks of `block`."""
    tmp = tempfile.TemporaryDirectory(prefix="bench-dups-old-")
    old = _load_revision(rev, tmp.name)
    rows = _rows(source)
    n = len(rows)
    old_config = old.DuplicateConfig()
    if hasattr(old, "offline_shard"):  # a sharded core (records + derived), like this one
        old_shard = old.offline_shard(old_config)
        old_args: tuple[Any, ...] = (old_shard,)
    else:  # before the shards: one dict of JSON rows
        old_index: dict[str, Any] = {}
        old_args = (old_config, old_index)
    config = DuplicateConfig()
    shard = DuplicateShard(config, 0, {}, {})
    spent = {"old": 0.0, "new": 0.0}
    for lo in range(0, n, block):
        chunk = rows[lo : lo + block]
        started = time.perf_counter()
        for row in chunk:
            old.check_duplicate(*old_args, *row)
        spent["old"] += time.perf_counter() - started
        started = time.perf_counter()
        for row in chunk:
            if not is_empty(row[4]) and (p := probe(config, *row)) is not None:
                verdict(p, shard.match_and_index(p, p.keys))
        spent["new"] += time.perf_counter() - started
    kept = shard.remembered()
    if len(old_args) == 1:
        old_state = "{:.0f} B records + {:.0f} B derived".format(
            *(store_bytes(store)[1] / kept for store in (old_shard.records, old_shard.derived))
        )
    else:
        old_state = f"{sum(len(k) + len(orjson.dumps(v)) for k, v in old_index.items()) / kept:.0f} B"
    new_records = store_bytes(shard.records)[1]
    new_derived = store_bytes(shard.derived)[1]
    print(
        f"{n:,} comments, {rev} vs this tree, same run: {n / spent['old']:,.0f} vs {n / spent['new']:,.0f} "
        f"comments/s ({spent['old'] / spent['new']:.2f}x); state {old_state} vs "
        f"{new_records / kept:.0f} B records + {new_derived / kept:.0f} B derived"
    )
    tmp.cleanup()


def main(argv: list[str]) -> None:
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return
    if argv[:1] == ["--against"]:
        against(argv[1], argv[2] if len(argv) > 2 else "100000")
        return
    plans = [_plan(a) for a in argv] or [(100_000, "dict", "dict", 0), (100_000, "dict", "rocksdb", 0)]
    config = DuplicateConfig()
    params = config.params
    print(
        f"MinHash k={params.k} {params.layout.bands}x{params.layout.rows} (+{params.short_layout.bands}x"
        f"{params.short_layout.rows} for texts of <= {params.short_shingles} shingles), threshold "
        f"{config.threshold}, window {config.window:.0f} s, max {config.max_per_key} comments per key"
    )
    stream_costs(config)
    for n, records_kind, derived_kind, budget in plans:
        run(n, records_kind, derived_kind, budget)


def _plan(arg: str) -> tuple[int, str, str, int]:
    """N[:records[:derived[:budget]]], e.g. 200000:dict:dict:50000 (a budget below N: evictions)."""
    parts = arg.split(":")
    if not all(p.isdigit() for p in parts[:1] + parts[3:]) or not {*parts[1:3]} <= {"dict", "rocksdb"}:
        sys.exit(
            f"bench_duplicates: {arg!r} is not N[:records[:derived[:budget]]] (stores: dict, rocksdb); see --help"
        )
    records = parts[1] if len(parts) > 1 else "dict"
    derived = parts[2] if len(parts) > 2 else "dict"
    return int(parts[0]), records, derived, int(parts[3]) if len(parts) > 3 else 0


if __name__ == "__main__":
    main(sys.argv[1:])
