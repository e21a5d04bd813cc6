"""Worker liveness that means "still consuming", and the worker's HTTP endpoint.

A consumer bootstep beats on the worker's event-loop timer only while the broker connection is up
and the task consumer is attached. A worker whose loop hangs, or that lost Redis and is stuck
reconnecting, stops beating, and `/healthz` turns 503 after SPILLWAY_HEARTBEAT_MAX_AGE, which the
kubelet's liveness probe acts on. Before the first beat it answers 503 too, so the same path
serves as the startup probe. (Celery's own Helm chart probe runs `celery inspect ping`, which
spawns a Python process and a broker round trip per probe; this is a plain HTTP GET.)
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from celery import bootsteps

log = logging.getLogger("spillway.worker")

_state: dict[str, float] = {}


def last_beat() -> float | None:
    return _state.get("beat")


def beat() -> None:
    _state["beat"] = time.monotonic()


class Heartbeat(bootsteps.StartStopStep):
    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.tref: Any = None

    def start(self, c: Any) -> None:
        interval = c.app.conf.spillway_heartbeat_interval
        self.tref = c.timer.call_repeatedly(interval, self._beat, (c,), priority=10)
        self._beat(c)

    def _beat(self, c: Any) -> None:
        connection = getattr(c, "connection", None)
        if connection is not None and connection.connected and c.task_consumer is not None:
            beat()

    def stop(self, c: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    shutdown = stop


def health(max_age: float) -> tuple[int, dict[str, Any]]:
    beat_at = last_beat()
    if beat_at is None:
        return 503, {"status": "starting"}
    age = time.monotonic() - beat_at
    if age > max_age:
        return 503, {"status": "stalled", "heartbeat_age_seconds": round(age, 3)}
    return 200, {"status": "ok", "heartbeat_age_seconds": round(age, 3)}


def _handler(max_age: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path in ("/healthz", "/readyz"):
                status, body = health(max_age)
                self._send(status, "application/json", json.dumps(body).encode())
            elif self.path == "/metrics":
                from prometheus_client import (
                    CONTENT_TYPE_LATEST,
                    CollectorRegistry,
                    generate_latest,
                    multiprocess,
                )

                registry = CollectorRegistry()
                multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            else:
                self._send(404, "application/json", b'{"status": "not found"}')

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # probes every few seconds would flood the log

    return Handler


class HttpEndpoint(bootsteps.StartStopStep):
    """Serves /healthz and /metrics from the worker's main process."""

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.server: ThreadingHTTPServer | None = None

    def start(self, worker: Any) -> None:
        conf = worker.app.conf
        port = conf.spillway_http_port
        if port <= 0:
            return
        handler = _handler(conf.spillway_heartbeat_max_age)
        self.server = ThreadingHTTPServer(("0.0.0.0", port), handler)
        self.server.daemon_threads = True
        thread = threading.Thread(target=self.server.serve_forever, name="spillway-http")
        thread.daemon = True
        thread.start()
        log.info("worker health and metrics on :%d (/healthz, /metrics)", port)

    def stop(self, worker: Any) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    shutdown = stop
