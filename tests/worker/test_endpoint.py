"""The worker's HTTP endpoint: /healthz from the heartbeat, /metrics from the pool's files."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from functions.worker import endpoint, health


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from http.server import ThreadingHTTPServer

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    health._state.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), endpoint.handler(30.0, lambda: True))
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
