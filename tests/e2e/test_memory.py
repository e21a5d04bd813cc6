"""Memory admission against a real redis-server at a small maxmemory, a real API and worker.

With noeviction, Redis refuses any write that may grow memory once over maxmemory (redis
src/server.c, processCommand: "-OOM command not allowed when used memory > 'maxmemory'"): the
API must stop accepting before that, so the work it accepted can still be run and recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
import redis

from functions import keys
from functions.localredis import RedisServer
from tests.support.processes import Proc

pytestmark = pytest.mark.e2e
BATCH = 50
HEADROOM = 4 * 1024 * 1024  # bytes of maxmemory above what the empty Redis uses
SHARE = 0.5  # SPILLWAY_MEMORY_ADMISSION


def _memory(client: redis.Redis) -> tuple[int, int]:
    info = client.info("memory")
    return int(info["used_memory"]) - int(info["mem_not_counted_for_evict"]), int(info["maxmemory"])


def test_submits_are_refused_before_redis_is_full_and_accepted_work_completes(
    own_redis: RedisServer,
    api_factory: Callable[..., Proc],
    worker_factory: Callable[..., Proc],
) -> None:
    admin = redis.Redis.from_url(own_redis.url)
    used, _ = _memory(admin)
    admin.config_set("maxmemory", used + HEADROOM)
    api = api_factory(
        own_redis.url,
        SPILLWAY_MEMORY_ADMISSION=str(SHARE),
        SPILLWAY_MEMORY_SAMPLE_INTERVAL="0.02",
    )
    http = httpx.Client(base_url=api.url, timeout=10)
    accepted: list[str] = []
    refused: httpx.Response | None = None
    body = {"items": [{"seconds": 0}] * BATCH}
    deadline = time.monotonic() + 60
    while refused is None:
        assert time.monotonic() < deadline, f"never refused after {len(accepted)} accepted"
        response = http.post("/v1/functions/sleep/invocations/batch", json=body)
        if response.status_code == 202:
            accepted += response.json()["ids"]
        else:
            refused = response

    # Refused with its own problem type, while Redis itself still had room to write.
    assert refused.status_code == 503, refused.text
    problem = refused.json()
    assert problem["type"] == "urn:spillway:problem:memory-pressure", problem
    assert "nothing was enqueued" in problem["detail"]
    assert int(refused.headers["retry-after"]) >= 1
    used, maxmemory = _memory(admin)
    assert SHARE * maxmemory < used < maxmemory, (used, maxmemory)
    assert admin.llen("sleep") + admin.llen("spillway") == len(accepted)
    single = http.post("/v1/functions/sleep/invocations", json={"seconds": 0})
    assert single.json()["type"] == "urn:spillway:problem:memory-pressure", single.text
    ready = http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "degraded", ready.text
    assert "budget" in ready.json()["redis"]
    metrics = http.get("/metrics").text
    assert 'spillway_invocations_rejected_total{function="sleep",reason="memory"}' in metrics

    # A worker started now runs and records every accepted invocation (records kept 1 s).
    worker_factory(own_redis.url, SPILLWAY_RESULT_TTL="1")
    deadline = time.monotonic() + 120
    pending = set(accepted)
    while pending:
        assert time.monotonic() < deadline, f"{len(pending)} of {len(accepted)} unfinished"
        statuses = admin.pipeline(transaction=False)
        ordered = sorted(pending)
        for invocation_id in ordered:
            statuses.hget(keys.record_key("", invocation_id), "status")
        for invocation_id, status in zip(ordered, statuses.execute(), strict=True):
            assert status != b"failed", invocation_id
            if status == b"succeeded":
                pending.discard(invocation_id)
        time.sleep(0.2)
    # Once finished records expire, the budget frees and submits are accepted again.
    deadline = time.monotonic() + 20
    while (
        again := http.post("/v1/functions/sleep/invocations", json={"seconds": 0})
    ).status_code != 202:
        assert again.json()["type"] == "urn:spillway:problem:memory-pressure", again.text
        assert time.monotonic() < deadline, again.text
        time.sleep(0.2)
    http.close()
    admin.close()
