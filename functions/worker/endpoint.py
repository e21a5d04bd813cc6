"""The worker's HTTP endpoint on SPILLWAY_WORKER_HTTP_PORT: `/healthz` (health.py decides the
answer) and `/metrics` (the pool children's metrics, aggregated from PROMETHEUS_MULTIPROC_DIR).

A plain `http.server` in a thread of the worker's main process, started and stopped as a worker
bootstep: nothing to install, and it answers while the pool is busy. Requests are served by a
bounded pool of threads: the standard ThreadingHTTPServer starts one thread per connection
(socketserver.ThreadingMixIn.process_request), so anyone who can reach the port could make the
worker start threads without limit; here a connection beyond the pool is closed at once, and a
client that sends nothing is dropped after `REQUEST_TIMEOUT` (the kubelet's probes take
milliseconds and retry).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from celery import bootsteps

from functions.worker.health import broker_probe, health

log = logging.getLogger("spillway.worker")

# Connections served at once (the kubelet's three probes and a scrape, with room to spare), and
# seconds a connection may take to send its request and read the answer.
MAX_CONNECTIONS = 4
REQUEST_TIMEOUT = 2.0


class BoundedHTTPServer(HTTPServer):
    """An HTTPServer that serves at most `MAX_CONNECTIONS` connections at once, each on a
    thread of a fixed pool, and closes any connection beyond them."""

    daemon_threads = True

    def __init__(self, *args: Any, max_connections: int = MAX_CONNECTIONS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots = threading.BoundedSemaphore(max_connections)
        self._pool = ThreadPoolExecutor(max_connections, thread_name_prefix="spillway-http")

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # busy: the client retries, as probes do
            return
        self._pool.submit(self._serve, request, client_address)

    def _serve(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._slots.release()

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)


def handler(max_age: float, broker_answers: Callable[[], bool]) -> type[BaseHTTPRequestHandler]:
    """The request handler: `broker_answers` is asked only when the heartbeat is too old."""

    class Handler(BaseHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT  # socket timeout: a silent client frees its slot

        def do_GET(self) -> None:
            if self.path in ("/healthz", "/readyz"):
                status, body = health(max_age, broker_answers)
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
        self.server: BoundedHTTPServer | None = None

    def start(self, worker: Any) -> None:
        conf = worker.app.conf
        port = conf.spillway_http_port
        if port <= 0:
            return
        handler_class = handler(conf.spillway_heartbeat_max_age, broker_probe(conf.broker_url))
        self.server = BoundedHTTPServer(("0.0.0.0", port), handler_class)
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
