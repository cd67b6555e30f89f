"""Running a group's stages chained over one comment: prepare every stage, gather the keyed-state
operations by partition (one scatter), take each partition's answers (one gather), finish every
stage in order. The stream (stream.py) and the offline tools (pipeline.py) run the same steps.

A failure in a stage's step or in one of its state operations costs only that stage: its result
becomes `stage.error` (the comment is held) and the failure is reported for the dead-letter topic;
the other stages still run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from streamproc.events import Envelope, StageResult
from streamproc.metrics import Metrics
from streamproc.stages import APPLY
from streamproc.stages.stage import ApplyContext, Op, Stage, StateOpError, error_result
from streamproc.state import Shard

ERROR = "error"  # key of a failed operation's answer


@dataclass(slots=True)
class Work:
    """A comment part-way through its group's stages."""

    env: Envelope
    prepared: list[Any]
    failed: dict[int, BaseException]  # stage index -> why it failed
    ops: list[tuple[int, Op]]  # (stage index, operation)
    by_partition: dict[int, list[int]]  # partition -> indices into ops
    answers: dict[int, Any] = field(default_factory=dict)  # op index -> its answer
    waiting: set[int] = field(default_factory=set)  # partitions that have not answered
    spent: list[float] = field(default_factory=list)  # seconds each stage took here

    def requests(self) -> dict[int, list[list[Any]]]:
        """The operations of each partition, as sent to it: [[kind, payload], ...]."""
        return {
            q: [[self.ops[i][1].kind, self.ops[i][1].payload] for i in idx]
            for q, idx in self.by_partition.items()
        }


@dataclass(slots=True)
class Finished:
    """Every stage's result in order, and the stages that failed (for the dead-letter topic)."""

    env: Envelope
    results: list[StageResult]
    failures: list[tuple[str, BaseException]]
    answers: dict[str, list[Any]]  # each stage's state answers (the spam model's trainer uses them)

    @property
    def action(self) -> str | None:
        last = self.results[-1]
        return str(last.data["action"]) if last.stage == "decide" else None


class Chain:
    def __init__(self, stages: Sequence[Stage], partitions: int, metrics: Metrics | None = None) -> None:
        self.stages = list(stages)
        self.partitions = partitions
        self.metrics = metrics

    def begin(self, env: Envelope) -> Work:
        prepared: list[Any] = []
        failed: dict[int, BaseException] = {}
        ops: list[tuple[int, Op]] = []
        spent: list[float] = []
        for i, stage in enumerate(self.stages):
            started = time.perf_counter()
            try:
                prep = stage.prepare(env)
                ops += [(i, op) for op in stage.ops(env, prep, self.partitions)]
            except Exception as exc:  # a bug or bad input the validation missed: only this stage fails
                prep, failed[i] = None, exc
            prepared.append(prep)
            spent.append(time.perf_counter() - started)
        by_partition: dict[int, list[int]] = {}
        for n, (_, op) in enumerate(ops):
            by_partition.setdefault(op.partition, []).append(n)
        return Work(env, prepared, failed, ops, by_partition, waiting=set(by_partition), spent=spent)

    def answer(self, work: Work, partition: int, answers: Sequence[Any]) -> None:
        """Record one partition's answers (in the order of its operations); again is a no-op."""
        if partition not in work.waiting:
            return
        for n, value in zip(work.by_partition[partition], answers, strict=True):
            work.answers[n] = value
        work.waiting.discard(partition)

    def finish(self, work: Work) -> Finished:
        env = work.env
        per_stage: dict[int, list[Any]] = {}
        for n, (i, _) in enumerate(work.ops):
            per_stage.setdefault(i, []).append(work.answers.get(n))
        results: list[StageResult] = []
        failures: list[tuple[str, BaseException]] = []
        for i, stage in enumerate(self.stages):
            name = stage.spec.name
            started = time.perf_counter()
            exc = work.failed.get(i)
            answers = per_stage.get(i, [])
            if exc is None:
                bad = next((a for a in answers if isinstance(a, dict) and ERROR in a), None)
                if bad is not None:
                    exc = StateOpError(bad[ERROR])
            if exc is None:
                try:
                    result = stage.finish(env, work.prepared[i], answers)
                except Exception as err:
                    exc = err
            if exc is not None:
                failures.append((name, exc))
                result = error_result(name, exc)
            env.stages[name] = result
            results.append(result)
            if self.metrics is not None:
                self.metrics.duration.labels(name).observe(work.spent[i] + time.perf_counter() - started)
        return Finished(env, results, failures, {self.stages[i].spec.name: a for i, a in per_stage.items()})


def serve(shard: Shard, requests: Sequence[Sequence[Any]], ctx: ApplyContext) -> list[Any]:
    """Run one partition's operations ([kind, payload], ...) on its shard; a failing operation
    answers {"error": ...} instead of failing the others."""
    out = []
    for kind, payload in requests:
        try:
            out.append(APPLY[kind](shard, payload, ctx))
        except Exception as exc:
            out.append({ERROR: f"{kind}: {type(exc).__name__}: {exc}"[:500]})
    return out


def serve_here(chain: Chain, work: Work, partition: int, shard: Shard, ctx: ApplyContext) -> None:
    """Serve one partition of `work` in place (this process owns it), timing each operation as
    part of the stage that asked for it."""
    answers = []
    for n in work.by_partition[partition]:
        i, op = work.ops[n]
        started = time.perf_counter()
        answers.extend(serve(shard, [[op.kind, op.payload]], ctx))
        work.spent[i] += time.perf_counter() - started
    chain.answer(work, partition, answers)
