"""The worker's HTTP endpoint: `/metrics` (Prometheus text format) and `/healthz` (liveness for
container and Kubernetes probes), served from a thread on STREAMPROC_METRICS_HOST:PORT.

`/healthz` answers 200 while the worker is starting or running and 503 once the watchdog found it
stalled (so a probe restarts it even if it cannot restart itself), with a JSON body saying why.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


@dataclass
class Health:
    """What /healthz reports; set by the worker and its watchdog (thread-safe enough: one writer)."""

    status: str = "starting"  # starting | running | stalled | stopping
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status != "stalled"

    def body(self) -> bytes:
        return orjson.dumps({"status": self.status, **self.detail})


def serve_http(host: str, port: int, registry: CollectorRegistry, health: Health) -> ThreadingHTTPServer:
    """Start the endpoint in a daemon thread; port 0 picks a free one (see `server_port`)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            elif path in ("/healthz", "/health"):
                self._send(200 if health.ok else 503, "application/json", health.body())
            else:
                self._send(404, "text/plain", b"not found: try /metrics or /healthz\n")

        def _send(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # scrapes are not news
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server
