"""Running a worker process: broker (configured or embedded), topics, /metrics, Faust worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

import faust
from prometheus_client import start_http_server

from streamproc.app import create_app, internal_topics
from streamproc.broker.tansu import Tansu
from streamproc.clients import ensure_topics
from streamproc.config import Settings
from streamproc.metrics import Metrics

log = logging.getLogger("streamproc.worker")


def run_worker(settings: Settings, *, loglevel: str = "warning") -> int:
    """Run the configured stages until SIGTERM/SIGINT. Without brokers, start the embedded one.

    The embedded broker keeps everything in memory, so the table store is memory:// there
    (Tansu's end offsets are not exact enough for RocksDB table recovery).
    """
    embedded: Tansu | None = None
    if not settings.brokers:
        embedded = Tansu().start()
        settings = settings.with_(brokers=embedded.bootstrap, store="memory://")
        print(f"embedded broker (Tansu) at {embedded.bootstrap}; it stops with this worker", flush=True)
    try:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        metrics = Metrics()
        app = create_app(settings, metrics)
        loop.run_until_complete(ensure_topics(settings, internal_topics(app, settings)))
        server, _thread = start_http_server(settings.metrics_port, settings.metrics_host, metrics.registry)
        port = server.server_port
        print(
            f"worker stages={','.join(settings.stages)} brokers={settings.brokers} "
            f"metrics=http://127.0.0.1:{port}/metrics",
            flush=True,
        )
        worker = faust.Worker(app, loop=loop, loglevel=loglevel, quiet=True, redirect_stdouts=False)
        with contextlib.suppress(SystemExit):
            worker.execute_from_commandline()
        server.shutdown()
        return 0
    finally:
        if embedded is not None:
            embedded.stop()
        sys.stdout.flush()
