"""Acknowledging input messages in the order they were read, per partition.

The head finishes comments out of order (one waits for another worker's answer, the next is served
in place), but Faust must be told in order: faust-streaming 0.15.3 computes the offset to commit
from the acknowledged offsets and lets a single missing offset through (`Consumer._new_offset`:
committed 46, acked 47 and 48 commits 49, although 46 is still in flight), so an out-of-order
acknowledgement can commit past a comment that then never gets a verdict. Here a finished message
is acknowledged only when every message read before it on its partition is finished too.
tests/unit/test_acks.py shows Faust's behaviour and this queue's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

E = TypeVar("E")


class InOrderAcks(Generic[E]):
    """Messages read and not yet acknowledged, per partition, in reading order."""

    def __init__(self, ack: Callable[[E], None], partition_of: Callable[[E], int]) -> None:
        self._ack = ack
        self._partition_of = partition_of
        self._queues: dict[int, deque[E]] = {}
        self._finished: set[int] = set()  # id() of finished messages still queued

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def read(self, message: E) -> None:
        self._queues.setdefault(self._partition_of(message), deque()).append(message)

    def finished(self, message: E) -> int:
        """Mark `message` finished; acknowledge what is now finished in order. Returns how many
        messages were acknowledged (0 when earlier ones are still open, or it was dropped)."""
        queue = self._queues.get(self._partition_of(message))
        if queue is None or not any(m is message for m in queue):
            return 0  # dropped at a rebalance: it is read again
        self._finished.add(id(message))
        acked = 0
        while queue and id(queue[0]) in self._finished:
            head = queue.popleft()
            self._finished.discard(id(head))
            self._ack(head)
            acked += 1
        return acked

    def clear(self) -> int:
        """Forget everything (a rebalance: every partition is read again from its committed
        offset); returns how many were open."""
        n = len(self)
        self._queues.clear()
        self._finished.clear()
        return n
