"""The API's metrics-only port: Prometheus gets /metrics and nothing else of the API."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import redis

from functions.localredis import free_port
from tests.support.processes import Proc


def test_the_metrics_port_serves_metrics_only(
    api_factory: Callable[..., Proc], redis_url: str, redis_client: redis.Redis
) -> None:
    """Under Knative the monitoring namespace may reach this port (platform/networkpolicy.yaml)
    but not the app's own, so nothing but /metrics may answer here: no submit, no read."""
    port = free_port()
    api = api_factory(redis_url, SPILLWAY_API_METRICS_PORT=str(port))
    scrape = f"http://127.0.0.1:{port}"
    response = httpx.get(f"{scrape}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "spillway_queue_depth" in response.text
    assert httpx.get(f"{scrape}/v1/functions", timeout=5).status_code == 404
    submit = httpx.post(f"{scrape}/v1/functions/echo/invocations", json={}, timeout=5)
    assert submit.status_code == 404
    assert httpx.post(f"{scrape}/metrics", timeout=5).status_code == 405
    assert redis_client.llen("spillway") == 0
    # A client that sends half a request and waits is closed, and the port keeps serving.
    with socket.create_connection(("127.0.0.1", port)) as silent:
        silent.sendall(b"GET /metr")
        assert httpx.get(f"{scrape}/metrics", timeout=5).status_code == 200
    assert httpx.get(f"{api.url}/v1/functions", timeout=5).status_code == 200
