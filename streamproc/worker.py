"""Running a worker process: broker (configured or embedded), topics, the stage group, the HTTP
endpoint (/metrics, /healthz), the watchdog, and a shutdown that always ends.

Shutdown: SIGTERM or SIGINT stops Faust, which commits what was finished. If that does not end
within STREAMPROC_SHUTDOWN_SECONDS (a broker that went away makes commits wait forever), the
process exits anyway with EXIT_FORCED: what it finished but could not commit is judged again by
the next owner (at-least-once). A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

import faust

from streamproc.broker.tansu import Tansu
from streamproc.clients import ensure_topics, partitions_of
from streamproc.config import Settings
from streamproc.errors import ConfigError
from streamproc.health import Health, serve_http
from streamproc.metrics import Metrics
from streamproc.stream import StreamGroup, internal_topics
from streamproc.topology import group_for
from streamproc.watchdog import EXIT_STALLED

log = logging.getLogger("streamproc.worker")

EXIT_FORCED = 4  # the stop did not finish in time: exited without a clean commit


class _Worker(faust.Worker):
    """Faust's worker with a bounded stop (see the module doc)."""

    shutdown_seconds: float = 30.0
    on_forced: Any = None

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        # Faust's terminal spinner sets the root logger to DEBUG so that every log call turns it:
        # each debug call in aiokafka and Faust (several per message) then builds a record and
        # runs the handlers. No spinner, and the root logger stays at the level asked for.
        self.spinner = None

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        freeze_long_lived()

    def _schedule_shutdown(self, signum: signal.Signals) -> None:
        if self._signal_stop_time:  # second signal: do not wait any more
            _exit_now(EXIT_FORCED, f"second {signum.name}: exiting without waiting for the stop")
        timer = threading.Timer(self.shutdown_seconds, _forced, args=(self.shutdown_seconds,))
        timer.daemon = True
        timer.start()
        super()._schedule_shutdown(signum)


def freeze_long_lived() -> None:
    """Leave what the worker built to start (modules, Faust's services, clients: most of the
    objects it holds) out of the garbage collector's full passes, which otherwise walk them all
    each time while the whole stream waits (docs/performance.md has the pauses before and after).
    Garbage is collected first: a frozen object is never freed."""
    gc.collect()
    gc.freeze()
    log.info("gc_frozen objects=%s", gc.get_freeze_count())


def _forced(seconds: float) -> None:
    _exit_now(EXIT_FORCED, f"stop did not finish in {seconds:.0f} s: exiting without a clean commit")


def _exit_now(code: int, why: str) -> None:
    log.error("worker_exit code=%s reason=%s", code, why)
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    _stop_embedded()
    os._exit(code)


_embedded: Tansu | None = None


def _stop_embedded() -> None:
    if _embedded is not None:
        _embedded.stop()


async def prepare_topics(settings: Settings) -> int:
    """Create the published topics and the group's internal ones; returns the group's partition
    count (that of its input topic, which the internal topics must share)."""
    group = group_for(settings.stages, settings.app_id)
    await ensure_topics(settings)
    input_topic = getattr(settings.topics, group.input)
    partitions = await partitions_of(settings, input_topic) or settings.partitions
    wanted = internal_topics(group, settings, partitions)
    await ensure_topics(settings, wanted)
    for topic in wanted:
        have = await partitions_of(settings, topic.name)
        if have is not None and have != topic.num_partitions:
            raise ConfigError(
                f"internal topic {topic.name} has {have} partitions but must have {topic.num_partitions} "
                f"(those of {input_topic}): the input topic's partitions changed; delete the group's "
                f"internal topics (state is rebuilt from empty) or restore the partition count"
            )
    return partitions


def run_worker(settings: Settings, *, loglevel: str = "warning") -> int:
    """Run the configured stages until SIGTERM/SIGINT. Without brokers, start the embedded one.

    The embedded broker keeps everything in memory, so the table store is memory:// there
    (Tansu's end offsets are not exact enough for RocksDB table recovery).
    """
    global _embedded
    if not settings.brokers:
        _embedded = Tansu().start()
        settings = settings.with_(brokers=_embedded.bootstrap, store="memory://")
        print(f"embedded broker (Tansu) at {_embedded.bootstrap}; it stops with this worker", flush=True)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        partitions = loop.run_until_complete(prepare_topics(settings))
        metrics = Metrics()
        health = Health()
        group = StreamGroup(settings, metrics, partitions, health=health, on_stalled=_on_stalled(settings))
        server = serve_http(settings.metrics_host, settings.metrics_port, metrics.registry, health)
        print(
            f"worker stages={','.join(group.group.names)} group={group.group.group_id} partitions={partitions} "
            f"brokers={settings.brokers} metrics=http://{settings.metrics_host}:{server.server_port}/metrics "
            f"health=/healthz",
            flush=True,
        )
        worker = _Worker(group.app, loop=loop, loglevel=loglevel, quiet=True, redirect_stdouts=False)
        worker.shutdown_seconds = settings.shutdown_seconds
        health.status = "running"
        try:
            worker.execute_from_commandline()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        else:
            code = 0
        server.shutdown()
        return code
    finally:
        _stop_embedded()
        sys.stdout.flush()


def _on_stalled(settings: Settings) -> Any:
    def stalled(why: str) -> None:
        if settings.stall_action == "exit":
            _exit_now(EXIT_STALLED, why)
        log.error("worker_restart reason=%s: re-executing the worker", why)
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stdout.flush()
        _stop_embedded()
        time.sleep(1.0)  # let the log reach its file
        os.execv(sys.executable, [sys.executable, "-m", "streamproc", *sys.argv[1:]])

    return stalled
