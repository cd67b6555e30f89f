"""The worker process around Faust's: its logging level, and what it does once started."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Iterator

import faust
import pytest

from streamproc.worker import _Worker


@pytest.fixture
def worker() -> Iterator[_Worker]:
    """A worker around an app that is never started (no broker is reached)."""
    loop = asyncio.new_event_loop()
    try:
        app = faust.App("worker-test", broker="kafka://127.0.0.1:9", loop=loop)
        yield _Worker(app, loop=loop, loglevel="warning", quiet=True, redirect_stdouts=False)
    finally:
        loop.close()


def test_the_root_logger_stays_at_the_level_asked_for(worker: _Worker) -> None:
    root = logging.getLogger()
    saved = (root.level, root.handlers[:])
    try:
        worker._setup_logging()
        assert root.level == logging.WARNING
        # aiokafka logs several debug lines per message sent: they must stop at the level check
        assert not logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG)
        assert worker.spinner is None
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]


def test_a_started_worker_freezes_what_it_built(worker: _Worker) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        worker.loop.run_until_complete(worker.on_startup_finished())
        # the app and the worker are long-lived: no full pass walks them any more
        assert gc.get_freeze_count() > 10_000
        assert not any(o is worker.app for o in gc.get_objects(generation=2))
    finally:
        gc.unfreeze()
