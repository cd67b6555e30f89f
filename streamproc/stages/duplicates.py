"""The duplicates stage: verdicts.links -> index shards -> join -> verdicts.duplicates.

Why three agents: a comment has 17 index keys (exact fingerprint and 16 MinHash bands), and a near
copy shares only some of them with its original, so no single re-keying puts both on the same
partition. The index is therefore a Faust table ("duplicates-index") sharded by key over the
partitions of an internal topic:

1. `duplicates` (on verdicts.links) computes the keys, groups them by the partition that owns them
   (`key_partition`) and sends one message per involved partition to the shard topic, with an
   explicit `partition=`. Faust writes a table's changelog entry to the partition of the event
   being processed, so each key and its changelog stay on the partition that owns it, and a worker
   that takes over a partition recovers exactly the keys it needs. The first of these messages
   also carries the comment (the stage message so far).
2. `duplicates-shard` (on the shard topic) checks its keys against its part of the index, verifies
   candidates with the exact Jaccard similarity (each shard keeps the normalised text of the
   comments whose keys it holds), remembers the comment, and replies with the matches to the reply
   topic, keyed by comment id, saying how many replies to expect.
3. `duplicates-join` (on the reply topic) collects the replies in a table keyed by comment id
   ("duplicates-join", changelogged, so a restart does not lose half-joined comments) and publishes
   the verdict when all are in. A comment whose keys all live on one partition (always, with one
   partition) skips the table. A tick sent by a timer to each owned reply partition lets the join
   publish what it has after JOIN_TIMEOUT seconds, so no comment waits forever for a lost shard.

Measured (bench/bench_duplicates.py, 2 shared cores): the core alone runs at about 900 comments/s
with 100k comments in the window (1.1 ms each, most of it verifying candidates), 580/s with RocksDB
as the store, 224/s with RocksDB and 1M comments in the window; index state is about 900-950 bytes
per comment on one partition (17 keys, a doc row, a log row).
The stream adds, per comment: with one partition 3 Kafka messages (shard, reply, verdict) and 20
changelog writes, no join; with 4 partitions about 9 messages and 33 changelog writes (the doc row,
log row and log head are kept once per involved partition). A bare Faust hop handles a few thousand messages/s per process
(design notes), so the two extra hops and the changelog writes, not the detection, bound a
partition's throughput at several partitions: keys are therefore grouped per partition (one shard
message per partition, not per key) and the join table is skipped when one shard holds every key.

Bounds (see detect/duplicates.py): each shard keeps its comments in an arrival-order log in the
same table and, with every new comment, forgets the oldest ones that left the window or exceed
the size budget (`STREAMPROC_DUPLICATE_MAX_COMMENTS` per partition), deleting their doc rows and
the keys nobody else refers to. Those deletes are written while the shard's own event is
processed, so each tombstone lands in the changelog partition that holds the key. Each key is
also bounded to MAX_PER_KEY rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import faust
import orjson

from streamproc.detect.duplicates import (
    DuplicateShard,
    Match,
    Probe,
    empty_result,
    is_empty,
    key_partition,
    keys_by_partition,
    verdict,
)
from streamproc.errors import DecodeError
from streamproc.events import encode, stage_message_from_dict
from streamproc.stages.common import StageContext, dead_letter, publish, raw_topic, stage_agent

log = logging.getLogger("streamproc.stages.duplicates")

JOIN_TIMEOUT = 30.0  # seconds a comment waits for all shards before it is published with what came
JOIN_TICK = 10.0  # how often the join looks for comments that waited too long: each look reads the
# whole join table, done markers included (about DONE_TTL x the comment rate entries)
DONE_TTL = 300.0  # seconds a finished join is remembered, so a re-delivered reply is ignored


class ShardRecords(MutableMapping[bytes, bytes]):
    """One partition's records in the shared records table: keys carry the partition, so a worker
    holding several partitions keeps their records apart and iterates only this one's."""

    def __init__(self, table: MutableMapping[bytes, bytes], partition: int) -> None:
        self.table, self.prefix = table, partition.to_bytes(2, "big")

    def __getitem__(self, key: bytes) -> bytes:
        return self.table[self.prefix + key]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.table[self.prefix + key] = value

    def __delitem__(self, key: bytes) -> None:
        del self.table[self.prefix + key]

    def __iter__(self) -> Any:
        return (k[2:] for k in list(self.table.keys()) if k[:2] == self.prefix)

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass(slots=True)
class Joins:
    """The shard replies of each comment, until all are in (any mapping: a Faust table in the
    stream, so that a restart keeps half-joined comments). A finished comment is remembered for
    DONE_TTL, so that a re-delivered reply neither completes a join early nor starts a new one."""

    table: MutableMapping[str, Any]
    timeout: float = JOIN_TIMEOUT
    done_ttl: float = DONE_TTL

    def add(self, reply: dict[str, Any], partition: int, now: float) -> dict[str, Any] | None:
        """Record one shard's reply; returns the joined entry when the comment is complete."""
        cid = reply["id"]
        entry = self.table.get(cid) or {"m": [], "s": [], "n": reply["n"], "t": now}
        shard = reply["s"]
        if entry.get("done") or shard in entry["s"]:
            return None  # re-delivered: this shard was already counted
        entry["m"] += reply["m"]
        entry["s"].append(shard)
        entry["part"] = partition
        for name in ("env", "p"):
            if name in reply:
                entry[name] = reply[name]
        if len(entry["s"]) >= entry["n"] and "env" in entry:
            self.table[cid] = {"done": True, "t": now, "part": partition}
            return entry
        self.table[cid] = entry
        return None

    def expire(self, partition: int, now: float) -> list[dict[str, Any]]:
        """The entries of `partition` that waited longer than the timeout, to publish as partial;
        forgets finished comments after DONE_TTL."""
        out = []
        for cid, entry in list(self.table.items()):
            if entry.get("part") != partition:
                continue
            if entry.get("done"):
                if now - entry["t"] >= self.done_ttl:
                    del self.table[cid]
            elif now - entry["t"] < self.timeout:
                continue
            elif "env" in entry:
                out.append(entry)
                self.table[cid] = {"done": True, "t": now, "part": partition}
            else:  # the reply with the comment has not come: it starts a new entry if it does
                log.warning("join_waiting comment_id=%s got=%s of %s", cid, len(entry["s"]), entry["n"])
                del self.table[cid]
        return out


def register(ctx: StageContext) -> list[Any]:
    s = ctx.settings
    config = ctx.logic.duplicate_config
    shards = raw_topic(ctx.app, f"{s.app_id}-duplicates-shards", internal=True, partitions=s.partitions)
    replies = raw_topic(ctx.app, f"{s.app_id}-duplicates-replies", internal=True, partitions=s.partitions)
    raw = faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    records = ctx.app.Table("duplicates-records", schema=raw, partitions=s.partitions)
    held: dict[int, DuplicateShard] = {}  # derived indexes live in memory: rebuilt when first used

    def shard_of(partition: int) -> DuplicateShard:
        if partition not in held:
            held[partition] = DuplicateShard(config, partition, ShardRecords(records, partition), {})
        return held[partition]

    joins = Joins(ctx.app.Table("duplicates-join", key_type=str, partitions=s.partitions))

    for cause in ("window", "budget"):
        ctx.metrics.evictions.labels(cause)

    def evicted(cause: str) -> None:
        ctx.metrics.evictions.labels(cause).inc()

    async def route(env: Any, event: Any) -> None:
        c = env.comment
        p = ctx.logic.duplicate_key(env)  # None when empty or too short to compare
        groups = keys_by_partition(p.keys, s.partitions) if p else {}
        if not groups:  # empty or junk: no keys, but the same path keeps the input order
            groups = {key_partition(c.id, s.partitions): []}
        for i, (partition, keys) in enumerate(groups.items()):
            body: dict[str, Any] = {"id": c.id, "n": len(groups), "k": keys, "p": p.to_dict() if p else None}
            if i == 0:
                body["env"] = orjson.Fragment(event.value)  # the comment and the links verdict, as is
            await shards.send(key=c.id.encode(), value=encode(body), partition=partition)

    async def shard(stream: faust.StreamT) -> None:
        async for event in stream.events():
            ctx.metrics.consumed.labels("duplicates-shard").inc()
            try:
                body = orjson.loads(event.value)
                partition = event.message.partition
                matches: list[Match] = []
                if body["p"] is not None:
                    p = Probe.from_dict(body["p"])
                    matches = shard_of(partition).match_and_index(
                        p, body["k"], wall=time.time(), on_evict=evicted
                    )
                reply: dict[str, Any] = {
                    "id": body["id"],
                    "n": body["n"],
                    "s": partition,  # which shard answered: a re-delivered reply is counted once
                    "m": [m.to_list() for m in matches],
                }
                if "env" in body:
                    reply["env"] = body["env"]
                    if body["p"] is not None:  # the verdict needs who and when and the fingerprint
                        reply["p"] = body["p"]
                await replies.send(key=body["id"].encode(), value=encode(reply))
            except Exception as exc:
                ctx.metrics.errors.labels("duplicates-shard", type(exc).__name__[:40]).inc()
                log.exception("stage_error stage=duplicates-shard")
                await dead_letter(
                    ctx, "duplicates-shard", event, "stage_error", f"{type(exc).__name__}: {exc}"
                )

    async def finish(entry: dict[str, Any], partial: bool) -> None:
        env = stage_message_from_dict(entry["env"])
        p = Probe.from_dict(entry["p"]) if entry.get("p") else None
        if p is None and is_empty(env.comment.text):  # no keys: empty, or merely short
            result = empty_result()
        else:
            result = verdict(p, [Match.from_list(m) for m in entry["m"]], partial=partial)
        await publish(ctx, "duplicates", env, result)

    async def joiner(stream: faust.StreamT) -> None:
        async for event in stream.events():
            try:
                body = orjson.loads(event.value)
                if "tick" in body:
                    await expire_joins(event.message.partition)
                    continue
                ctx.metrics.consumed.labels("duplicates-join").inc()
                if body["n"] == 1:
                    await finish(body, partial=False)
                    continue
                entry = joins.add(body, event.message.partition, time.time())
                if entry is not None:
                    await finish(entry, partial=False)
            except (DecodeError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
                await dead_letter(ctx, "duplicates-join", event, "bad_stage_message", repr(exc))
            except Exception as exc:
                ctx.metrics.errors.labels("duplicates-join", type(exc).__name__[:40]).inc()
                log.exception("stage_error stage=duplicates-join")
                await dead_letter(
                    ctx, "duplicates-join", event, "stage_error", f"{type(exc).__name__}: {exc}"
                )

    async def expire_joins(partition: int) -> None:
        for entry in joins.expire(partition, time.time()):
            try:
                await finish(entry, partial=True)
            except Exception as exc:  # one bad entry must not cost the others their verdict
                ctx.metrics.errors.labels("duplicates-join", type(exc).__name__[:40]).inc()
                log.exception("join_expiry_error partition=%s", partition)

    @ctx.app.timer(JOIN_TICK)
    async def tick() -> None:
        for tp in ctx.app.consumer.assignment():
            if tp.topic == replies.get_topic_name():
                await replies.send(value=encode({"tick": time.time()}), partition=tp.partition)

    @ctx.app.timer(10.0)
    async def state_size() -> None:
        owned = {tp.partition for tp in ctx.app.consumer.assignment() if tp.topic == shards.get_topic_name()}
        for partition in set(held) - owned:  # revoked: a later assignment rebuilds from records
            del held[partition]
        ctx.metrics.index_comments.set(sum(shard_of(partition).remembered() for partition in owned))

    return [
        stage_agent(ctx, "duplicates", ctx.topics["links"], route),
        ctx.app.agent(shards, name="duplicates-shard", concurrency=1)(shard),
        ctx.app.agent(replies, name="duplicates-join", concurrency=1)(joiner),
    ]
