"""Noticing a stuck worker: an assigned input partition with messages waiting that has not
finished one for STREAMPROC_STALL_SECONDS.

Progress is what the worker finished (a message is finished when its verdicts or dead letter are
acknowledged by the brokers), not what it fetched, so a worker whose fetcher, agent, state round
trips or publishing hangs all count as stuck. Known ways Faust gets stuck after rebalances and
broker restarts are in the design notes; the fixes are in stream.py, this is the net.

/healthz answers 503 and `streamproc_stalled` is 1 from then on. If the worker is still stalled 20 s
later it leaves its group and acts (STREAMPROC_STALL_ACTION): `restart` (default) re-executes the
worker process in place (same pid, same arguments): a fresh consumer joins the group and resumes
from the committed offsets, and nothing outside has to notice; `exit` ends the process with
EXIT_STALLED for a supervisor (systemd, Docker's restart policy, Kubernetes) to restart. If it
moved again meanwhile (a paused process, a slow rebalance), it goes on and reports healthy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

EXIT_STALLED = 3


@dataclass(slots=True)
class _Partition:
    finished: int  # highest offset finished + 1 (-1: none yet)
    since: float  # when `finished` last moved (or the partition was assigned)


@dataclass
class Watchdog:
    stall_seconds: float
    _parts: dict[int, _Partition] = field(default_factory=dict)

    def assigned(self, partitions: set[int], now: float) -> None:
        """A new assignment: every partition gets a full stall period from now."""
        self._parts = {p: _Partition(-1, now) for p in partitions}

    def finished(self, partition: int, offset: int, now: float) -> None:
        """The worker finished the message at `offset` of `partition`."""
        part = self._parts.get(partition)
        if part is not None and offset + 1 > part.finished:
            part.finished = offset + 1
            part.since = now

    def stalled(
        self, ends: Mapping[int, int], committed: Mapping[int, int | None], now: float
    ) -> dict[int, float]:
        """Partitions with messages waiting (end offset beyond what was finished or committed)
        and no progress for stall_seconds: partition -> seconds without progress."""
        out = {}
        for p, part in self._parts.items():
            end = ends.get(p)
            done = max(part.finished, committed.get(p) or 0)
            if end is None or end <= done:
                part.since = now  # nothing waits: the clock starts when something does
                continue
            idle = now - part.since
            if idle >= self.stall_seconds:
                out[p] = idle
        return out
