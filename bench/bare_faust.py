"""Baseline for bench_pipeline: a bare Faust agent that forwards each message unchanged."""

from __future__ import annotations

import sys

import faust


def main(bootstrap: str, source: str, sink: str) -> None:
    app = faust.App(
        f"bare-faust-{source}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        web_enabled=False,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        producer_linger_ms=5,
    )
    src = app.topic(source, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    dst = app.topic(sink, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

    @app.agent(src)
    async def forward(stream: faust.StreamT) -> None:
        async for event in stream.events():
            await dst.send(key=event.key, value=event.value)

    # streamproc's worker class: Faust's own would set the root logger to DEBUG for its terminal
    # spinner, a cost per message that streamproc does not pay (see streamproc/worker.py).
    from streamproc.worker import _Worker

    _Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False).execute_from_commandline()


if __name__ == "__main__":
    main(*sys.argv[1:4])
