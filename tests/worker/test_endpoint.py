"""The worker's HTTP endpoint: /healthz from the heartbeat, /metrics from the pool's files."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from functions.worker import endpoint, health


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    health._state.clear()
    server = endpoint.BoundedHTTPServer(("127.0.0.1", 0), endpoint.handler(30.0, lambda: True))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    health._state.clear()


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def test_healthz_answers_what_health_decides(base: str) -> None:
    assert _get(f"{base}/healthz")[0] == 503  # no heartbeat yet: "starting"
    health.beat()
    status, content_type, body = _get(f"{base}/healthz")
    assert (status, content_type) == (200, "application/json")
    assert b'"status": "ok"' in body


def test_metrics_and_unknown_paths(base: str) -> None:
    status, content_type, _ = _get(f"{base}/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    assert _get(f"{base}/nope")[0] == 404


def test_many_connections_never_start_more_threads_than_the_pool(base: str) -> None:
    """socketserver's ThreadingMixIn starts a thread per connection: 50 silent clients would
    be 50 threads in the worker's main process. The bounded server keeps to its pool, closes
    the connections beyond it, drops silent ones after REQUEST_TIMEOUT, and answers again."""
    host, port = base.removeprefix("http://").split(":")
    before = threading.active_count()
    idle = [socket.create_connection((host, int(port))) for _ in range(50)]
    time.sleep(0.5)
    assert threading.active_count() - before <= endpoint.MAX_CONNECTIONS
    deadline = time.monotonic() + endpoint.REQUEST_TIMEOUT + 15
    status = 0
    while time.monotonic() < deadline and status != 503:
        try:
            status = _get(f"{base}/healthz")[0]
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    assert status == 503  # served again: no heartbeat yet, so "starting"
    assert threading.active_count() - before <= endpoint.MAX_CONNECTIONS
    for conn in idle:
        conn.close()
