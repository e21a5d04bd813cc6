"""Liveness and readiness, against real Redis servers (the choice: functions/api/routes/health.py).

Readiness encodes how Knative treats an unready pod (knative/serving knative-v1.15.0 to
v1.23.0: `pkg/queue/readiness/probe.go` ProbeContainer and aggressiveProbeTimeout,
`pkg/reconciler/serverlessservice/serverlessservice.go` reconcilePublicEndpoints,
`pkg/activator/net/throttler.go` revisionThrottler.try, `pkg/activator/handler/handler.go`
ServeHTTP): a pod that reached Redis once stays ready through an outage and answers well within
queue-proxy's 100 ms per probe attempt; one that never reached it is not ready.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from prometheus_client import REGISTRY

from functions.api.routes.health import REPORT_WITHIN
from functions.localredis import RedisServer, free_port
from functions.settings import Settings
from tests.api.conftest import paused

pytestmark = pytest.mark.anyio
# queue-proxy's aggressiveProbeTimeout (pkg/queue/readiness/probe.go).
QUEUE_PROXY_ATTEMPT = 0.1


async def test_healthz_is_ok_without_dependencies(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_ok_when_redis_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_fails_fast_when_redis_was_never_reached(
    client: httpx.AsyncClient, use_settings: Callable[..., Settings]
) -> None:
    use_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert "could not reach Redis" in response.json()["redis"]
    assert time.monotonic() - started < 1.0


async def test_a_wrong_password_never_becomes_ready(
    client: httpx.AsyncClient, use_settings: Callable[..., Settings], own_redis: RedisServer
) -> None:
    """A revision with bad credentials must not take traffic from the previous one."""
    import redis

    admin = redis.Redis.from_url(own_redis.url)
    admin.config_set("requirepass", "right")
    admin.close()
    use_settings(REDIS_URL=f"redis://:wrong@127.0.0.1:{own_redis.port}/0")
    for _ in range(3):
        response = await client.get("/readyz")
        assert response.status_code == 503, response.text
        assert "refused the connection setup" in response.json()["redis"]


async def test_a_ready_pod_stays_ready_through_a_redis_outage_and_says_so(
    client: httpx.AsyncClient, use_settings: Callable[..., Settings], own_redis: RedisServer
) -> None:
    """Paused (SIGSTOP: nothing answers) and stopped (connections refused): 200 `degraded`
    within queue-proxy's probe attempt, while submits get the fast 503 problem; `ok` again
    as soon as Redis is back."""
    use_settings(REDIS_URL=own_redis.url, REDIS_TIMEOUT=0.5)
    assert (await client.get("/readyz")).json() == {"status": "ok"}
    with paused(own_redis):
        started = time.monotonic()
        frozen = await client.get("/readyz")
        elapsed = time.monotonic() - started
    assert frozen.status_code == 200 and frozen.json()["status"] == "degraded", frozen.text
    assert REPORT_WITHIN <= elapsed < QUEUE_PROXY_ATTEMPT, elapsed

    own_redis.stop()
    started = time.monotonic()
    stopped = await client.get("/readyz")
    assert time.monotonic() - started < QUEUE_PROXY_ATTEMPT
    assert stopped.status_code == 200 and stopped.json()["status"] == "degraded", stopped.text
    submit = await client.post("/v1/functions/echo/invocations", json={})
    assert submit.status_code == 503 and "retry-after" in submit.headers

    own_redis.start()
    assert (await client.get("/readyz")).json() == {"status": "ok"}


async def test_readyz_is_503_until_the_process_is_initialised(client: httpx.AsyncClient) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    app.state.initialised = False
    try:
        response = await client.get("/readyz")
    finally:
        app.state.initialised = True
    assert response.status_code == 503 and response.json() == {"status": "starting"}


async def test_metrics_expose_the_documented_series(client: httpx.AsyncClient) -> None:
    before = REGISTRY.get_sample_value("spillway_invocations_submitted_total", {"function": "echo"})
    await client.post("/v1/functions/echo/invocations", json={"a": 1})
    await client.post("/v1/functions/echo/invocations", json=[1])
    text = (await client.get("/metrics")).text
    submitted = f'spillway_invocations_submitted_total{{function="echo"}} {(before or 0) + 1}'
    assert submitted in text
    assert 'spillway_invocations_rejected_total{function="echo",reason="invalid"}' in text
    assert 'spillway_queue_depth{queue="spillway"} 1.0' in text
    assert "spillway_http_requests_total{" in text
    assert 'route="/v1/functions/{name}/invocations"' in text
    assert "spillway_http_request_duration_seconds_bucket{" in text
