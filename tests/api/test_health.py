from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from functions.localredis import free_port
from functions.settings import Settings

pytestmark = pytest.mark.anyio


async def test_healthz_is_ok_without_dependencies(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_ok_when_redis_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_fails_fast_when_redis_is_unreachable(
    client: httpx.AsyncClient, use_settings: Callable[..., Settings]
) -> None:
    use_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}
    assert time.monotonic() - started < 1.0


async def test_metrics_expose_the_documented_series(client: httpx.AsyncClient) -> None:
    await client.post("/v1/functions/echo/invocations", json={"a": 1})
    await client.post("/v1/functions/echo/invocations", json=[1])
    text = (await client.get("/metrics")).text
    assert 'spillway_invocations_submitted_total{function="echo"} 1.0' in text
    assert 'spillway_invocations_rejected_total{function="echo",reason="invalid"}' in text
    assert 'spillway_queue_depth{queue="spillway"} 1.0' in text
    assert "spillway_http_requests_total{" in text
    assert 'route="/v1/functions/{name}/invocations"' in text
    assert "spillway_http_request_duration_seconds_bucket{" in text
