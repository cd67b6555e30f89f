"""Faust's end of table recovery, with the stream partitions resumed only after they are seeked.

faust-streaming 0.15.3 (`faust.tables.recovery.Recovery.on_recovery_completed`) resumes the
stream partitions and then seeks them to their committed offsets, while the consumer's flow is
already active (it was resumed to read the changelogs). A fetch that returns during the seek is
delivered to the agents; the seek then sets the read offsets back to the committed ones, the
`flow_control.resume()` that follows clears the agents' queues (dropping what was delivered and
not yet processed), and the rest of the fetched batch moves the read offsets past the dropped
records: the records fetched again from the committed offset are discarded as already read
("DROPPED MESSAGE ROFF"), and the offsets committed next skip them. Those records are lost, and
it happens to a worker that gets partitions with a backlog waiting, i.e. during a takeover.

Here the stream partitions stay paused until the seek is done, and partitions without a committed
offset are seeked to their start too (`_seek_uncommitted_to_start`); the rest is Faust's code
(tests/unit/test_recovery_patch.py fails when an upgrade changes the original). When no table
needs recovery Faust takes another path (`_resume_streams`), where the flow is still stopped
during the seek, so nothing is fetched then.

`SnapshotConsumer` fixes a loss of the same kind in Faust's fetching (`Consumer._wait_next_records`):
it hands aiokafka its live set of active partitions, which a pause empties while the fetch waits
(recovery pauses the changelog partitions when done, before the stream partitions are resumed).
aiokafka filters by that set only when it is non-empty, so the waiting fetch returned everything
it had buffered, and Faust dropped all of it as not active: aiokafka's positions had moved past
records no one processed. A stream partition then waited for good at the end of a backlog (no
later record showed the hole; tests/e2e/test_duplicates_takeover.py), and a recovery waited for
changelog records that never came (tests/e2e/test_feedback.py), each until the watchdog
restarted the worker. The copy takes one snapshot of the set for both the fetch and the check.

`SnapshotConsumer` also lowers the worker consumer's fetch wait from Faust's fixed 1.5 s to
FETCH_MAX_WAIT_MS. A broker answers the requests of one connection in order, so while a fetch
waits for records that do not come, the consumer's other requests to that broker wait behind it:
each step of a recovery (highwaters, offsets, seeks) cost up to 1.5 s, about 6 s per rebalance.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from aiokafka import AIOKafkaConsumer
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.transport.consumer import RecordMap
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer, ensure_aiokafka_TP
from faust.types import TP

FETCH_MAX_WAIT_MS = 100  # how long the broker may hold a fetch that finds no records


class SeekFirstRecovery(Recovery):
    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        consumer = self.app.consumer
        self.log.info("Restore complete!")
        await self.app.on_rebalance_complete.send()
        self._set_recovery_ended()
        callback_coros = [
            asyncio.ensure_future(
                table.on_recovery_completed(self.actives_for_table[table], self.standbys_for_table[table])
            )
            for table in self.tables.values()
        ]
        if callback_coros:
            await asyncio.wait(callback_coros)
        assignment = consumer.assignment()
        if self.app.consumer_generation_id != generation_id:
            self.log.warning(
                f"Recovery rebalancing again app id {self.app.consumer_generation_id} param {generation_id}"
            )
            return
        if assignment:
            self.log.info("Seek stream partitions to committed offsets.")
            await self._wait(consumer.perform_seek(), timeout=self.app.conf.broker_request_timeout)
        await self._seek_uncommitted_to_start(assignment)
        # Resumed only now: nothing of theirs was fetched for the agents before the seek.
        consumer.resume_partitions({tp for tp in assignment if not self._is_changelog_tp(tp)})
        self.completed.set()
        self.app.flow_control.resume()
        consumer.resume_flow()
        await cast(Any, self.app)._fetcher.maybe_start()
        self.tables.on_actives_ready()
        if not self.app.assignor.assigned_standbys():
            self.tables.on_standbys_ready()
        self.app.on_rebalance_end()
        self.log.info("Worker ready")

    async def _seek_uncommitted_to_start(self, assignment: set[Any]) -> None:
        """perform_seek leaves a partition without a committed offset where the fetcher stopped
        (aiokafka's seek_to_committed skips offset None and 0). Faust drops what is fetched while
        its flow is stopped, so such a partition would go on after records no one processed, or
        at its end: read them from its start, as the group's "earliest" reset says."""
        consumer = self.app.consumer
        if not assignment or self.app.conf.consumer_auto_offset_reset != "earliest":
            return
        tps = {
            tp
            for tp in assignment
            if not self._is_changelog_tp(tp) and consumer._committed_offset.get(tp) is None
        }
        if tps:
            await consumer._thread.seek_to_beginning(*(ensure_aiokafka_TP(tp) for tp in tps))
            for tp in tps:
                consumer._read_offset.pop(tp, None)


class SeekFirstTableManager(TableManager):
    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = SeekFirstRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery


class ShortWaitConsumerThread(AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when it starts its fetcher
        return consumer


class SnapshotConsumer(Consumer):
    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return ShortWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _wait_next_records(self, timeout: float) -> tuple[RecordMap | None, set[TP] | None]:
        if not self.flow_active:
            await self.wait(self.can_resume_flow)  # type: ignore[arg-type]
        try:
            self.not_waiting_next_records.set()
            is_client_only = self.app.client_only
            active_partitions: set[TP] | None
            if is_client_only:  # noqa: SIM108 (Faust's shape: tests/unit/test_recovery_patch.py)
                active_partitions = None
            else:
                # A copy: Faust passes its live set, which a pause may empty while aiokafka waits.
                active_partitions = set(self._get_active_partitions())
            records: RecordMap = {}
            if is_client_only or active_partitions:
                records = await self._getmany(active_partitions=active_partitions, timeout=timeout)
            else:
                await self.sleep(1)
            return records, active_partitions
        finally:
            self.not_waiting_next_records.set()


def use_snapshot_consumer(app: Any) -> None:
    """Make `app` create a SnapshotConsumer (before anything asks for its consumer)."""
    app.transport.Consumer = SnapshotConsumer
