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
with 100k comments in the window (1.1 ms each, most of it verifying candidates), 700/s with RocksDB
as the store; index state is about 930 bytes per comment on one partition (17 keys, one doc row).
The stream adds, per comment: with one partition 3 Kafka messages (shard, reply, verdict) and 18
changelog writes, no join; with 4 partitions about 9 messages and 25 changelog writes (the doc row is
kept once per involved partition). A bare Faust hop handles a few thousand messages/s per process
(design notes), so the two extra hops and the changelog writes, not the detection, bound a
partition's throughput at several partitions: keys are therefore grouped per partition (one shard
message per partition, not per key) and the join table is skipped when one shard holds every key.

Expiry: rows older than the window are dropped whenever a key is touched; a sweeper walks the index
a few keys per event and deletes entries with nothing left in the window (on the partition that
owns them, so the tombstone lands in the right changelog partition); each key is bounded to
MAX_PER_KEY rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import faust
import orjson

from streamproc.detect.duplicates import (
    Match,
    Probe,
    empty_result,
    is_empty,
    is_expired,
    key_partition,
    keys_by_partition,
    match_and_index,
    verdict,
)
from streamproc.errors import DecodeError
from streamproc.events import decode_stage_message, encode
from streamproc.stages.common import StageContext, dead_letter, publish, raw_topic, stage_agent

log = logging.getLogger("streamproc.stages.duplicates")

JOIN_TIMEOUT = 30.0  # seconds a comment waits for all shards before it is published with what came
JOIN_TICK = 2.0  # how often the join looks for comments that waited too long
SWEEP_BATCH = 4  # index keys examined for expiry per shard event: sweeping costs little per event
MAX_PENDING_DELETES = 10_000  # expired keys remembered for their own partition's next event


def _owner(key: str, partitions: int) -> int:
    if key.startswith("d"):  # doc rows are named after the shard that holds them
        return int(key[1 : key.index(":")])
    return key_partition(key, partitions)


class Sweeper:
    """Deletes index entries with nothing left in the window, a few per event, each on its own
    partition's event (so that its tombstone goes to the changelog partition holding the key)."""

    def __init__(self, index: Any, partitions: int, window: float) -> None:
        self.index, self.partitions, self.window = index, partitions, window
        self.keys: Iterator[str] | None = None
        self.pending: dict[int, set[str]] = {}

    def step(self, partition: int, now: float) -> int:
        deleted = 0
        for key in self.pending.pop(partition, ()):
            value = self.index.get(key)
            if value is not None and is_expired(key, value, now, self.window):
                del self.index[key]
                deleted += 1
        for _ in range(SWEEP_BATCH):
            try:
                if self.keys is None:
                    self.keys = iter(self.index.keys())
                key = next(self.keys)
            except (StopIteration, RuntimeError):  # a full pass done, or a dict changed under us
                self.keys = None
                break
            value = self.index.get(key)
            if value is None or not is_expired(key, value, now, self.window):
                continue
            owner = _owner(key, self.partitions)
            if owner == partition:
                del self.index[key]
                deleted += 1
            else:
                todo = self.pending.setdefault(owner, set())
                if len(todo) < MAX_PENDING_DELETES:
                    todo.add(key)
        return deleted


def register(ctx: StageContext) -> list[Any]:
    s = ctx.settings
    config = ctx.logic.duplicate_config
    shards = raw_topic(ctx.app, f"{s.app_id}-duplicates-shards", internal=True, partitions=s.partitions)
    replies = raw_topic(ctx.app, f"{s.app_id}-duplicates-replies", internal=True, partitions=s.partitions)
    index = ctx.app.Table("duplicates-index", key_type=str, partitions=s.partitions)
    join = ctx.app.Table("duplicates-join", key_type=str, partitions=s.partitions)
    sweeper = Sweeper(index, s.partitions, config.window)
    stream_time: dict[int, float] = {}

    async def route(env: Any, event: Any) -> None:
        c = env.comment
        p = None if is_empty(c.text) else ctx.logic.duplicate_key(env)
        groups = keys_by_partition(p.keys, s.partitions) if p else {}
        if not groups:  # empty or junk: no keys, but the same path keeps the input order
            groups = {key_partition(c.id, s.partitions): []}
        for i, (partition, keys) in enumerate(groups.items()):
            body: dict[str, Any] = {"id": c.id, "n": len(groups), "k": keys, "p": p.to_dict() if p else None}
            if i == 0:
                body["env"] = orjson.loads(event.value)  # the comment and the links verdict
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
                    matches = match_and_index(index, p, body["k"], config, shard=partition)
                    now = stream_time[partition] = max(stream_time.get(partition, 0.0), p.sighting.at)
                    try:  # expiry is housekeeping: it must never cost a comment its reply
                        sweeper.step(partition, now)
                    except Exception:
                        log.exception("sweep_error partition=%s", partition)
                        sweeper.keys = None
                reply: dict[str, Any] = {
                    "id": body["id"],
                    "n": body["n"],
                    "m": [m.to_list() for m in matches],
                }
                if "env" in body:
                    reply["env"] = body["env"]
                    if body["p"] is not None:  # the verdict needs who and when and the fingerprint
                        reply["p"] = {**body["p"], "n": "", "k": body["p"]["k"][:1]}
                await replies.send(key=body["id"].encode(), value=encode(reply))
            except Exception as exc:
                ctx.metrics.errors.labels("duplicates-shard", type(exc).__name__[:40]).inc()
                log.exception("stage_error stage=duplicates-shard")
                await dead_letter(
                    ctx, "duplicates-shard", event, "stage_error", f"{type(exc).__name__}: {exc}"
                )

    async def finish(entry: dict[str, Any], partial: bool) -> None:
        env = decode_stage_message(encode(entry["env"]))
        if is_empty(env.comment.text):
            result = empty_result()
        else:
            p = Probe.from_dict(entry["p"]) if entry.get("p") else None
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
                cid = body["id"]
                entry = join.get(cid) or {"m": [], "got": 0, "n": body["n"], "t": time.time()}
                entry["m"] += body["m"]
                entry["got"] += 1
                entry["part"] = event.message.partition
                for name in ("env", "p"):
                    if name in body:
                        entry[name] = body[name]
                if entry["got"] >= entry["n"] and "env" in entry:
                    await finish(entry, partial=False)
                    if cid in join:
                        del join[cid]
                else:
                    join[cid] = entry
            except (DecodeError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
                await dead_letter(ctx, "duplicates-join", event, "bad_stage_message", repr(exc))
            except Exception as exc:
                ctx.metrics.errors.labels("duplicates-join", type(exc).__name__[:40]).inc()
                log.exception("stage_error stage=duplicates-join")
                await dead_letter(
                    ctx, "duplicates-join", event, "stage_error", f"{type(exc).__name__}: {exc}"
                )

    async def expire_joins(partition: int) -> None:
        now = time.time()
        for cid, entry in list(join.items()):
            if entry.get("part") != partition or now - entry["t"] < JOIN_TIMEOUT:
                continue
            if "env" in entry:
                await finish(entry, partial=True)
            else:  # the message with the comment never came: nothing to publish
                log.warning("join_dropped comment_id=%s got=%s of %s", cid, entry["got"], entry["n"])
            del join[cid]

    @ctx.app.timer(JOIN_TICK)
    async def tick() -> None:
        for tp in ctx.app.consumer.assignment():
            if tp.topic == replies.get_topic_name():
                await replies.send(value=encode({"tick": time.time()}), partition=tp.partition)

    @ctx.app.timer(30.0)
    async def state_size() -> None:
        ctx.metrics.state_entries.set(len(index))

    return [
        stage_agent(ctx, "duplicates", ctx.topics["links"], route),
        ctx.app.agent(shards, name="duplicates-shard", concurrency=1)(shard),
        ctx.app.agent(replies, name="duplicates-join", concurrency=1)(joiner),
    ]
