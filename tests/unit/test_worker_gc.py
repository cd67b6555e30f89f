"""The worker leaves its start-up objects out of the garbage collector's full passes."""

from __future__ import annotations

import asyncio
import gc

import faust

from streamproc.worker import _Worker


def test_a_started_worker_freezes_what_it_built() -> None:
    loop = asyncio.new_event_loop()
    try:
        app = faust.App("gc-test", broker="kafka://127.0.0.1:9", loop=loop)
        worker = _Worker(app, loop=loop, loglevel="warning", quiet=True, redirect_stdouts=False)
        gc.unfreeze()
        assert gc.get_freeze_count() == 0
        loop.run_until_complete(worker.on_startup_finished())
        # the app and the worker are long-lived: no full pass walks them any more
        assert gc.get_freeze_count() > 10_000
        assert not any(o is app for o in gc.get_objects(generation=2))
    finally:
        gc.unfreeze()
        loop.close()
