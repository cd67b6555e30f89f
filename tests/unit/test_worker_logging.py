"""The worker's logging: the level asked for, not Faust's spinner's DEBUG."""

from __future__ import annotations

import asyncio
import logging

import faust

from streamproc.worker import _Worker


def test_the_root_logger_stays_at_the_level_asked_for() -> None:
    root = logging.getLogger()
    saved = (root.level, root.handlers[:])
    loop = asyncio.new_event_loop()
    try:
        app = faust.App("logging-test", broker="kafka://127.0.0.1:9", loop=loop)
        worker = _Worker(app, loop=loop, loglevel="warning", quiet=True, redirect_stdouts=False)
        worker._setup_logging()
        assert root.level == logging.WARNING
        # aiokafka logs several debug lines per message sent: they must stop at the level check
        assert not logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG)
        assert worker.spinner is None
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
        loop.close()
