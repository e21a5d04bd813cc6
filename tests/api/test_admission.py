"""Memory admission's settings against a real Redis: the budget, maxmemory 0, and no INFO.

The end-to-end case (a small maxmemory, a real worker finishing what was accepted) is
tests/e2e/test_memory.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
import redis

from functions.api.admission import parse_info
from functions.localredis import RedisServer
from functions.settings import Settings

pytestmark = pytest.mark.anyio
SUBMIT = "/v1/functions/echo/invocations"


def test_used_memory_is_counted_as_redis_counts_it_against_maxmemory() -> None:
    info = b"# Memory\r\nused_memory:5000\r\nmaxmemory:8000\r\nmem_not_counted_for_evict:1000\r\n"
    sample = parse_info(info, 0, 1.0)
    assert (sample.used, sample.budget) == (4000, 8000)
    assert parse_info(info, 6000, 1.0).budget == 6000  # SPILLWAY_MEMORY_BUDGET wins


async def test_a_budget_refuses_even_without_maxmemory(
    client: httpx.AsyncClient, use_settings: Callable[..., Settings], redis_client: redis.Redis
) -> None:
    assert redis_client.config_get("maxmemory")["maxmemory"] == "0"
    use_settings(MEMORY_BUDGET=1024, MEMORY_ADMISSION=0.9)
    response = await client.post(SUBMIT, json={})
    assert response.status_code == 503, response.text
    assert response.json()["type"] == "urn:spillway:problem:memory-pressure"
    assert redis_client.llen("spillway") == 0


async def test_without_maxmemory_or_budget_admission_is_off_and_says_so(
    client: httpx.AsyncClient,
    use_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    use_settings(MEMORY_ADMISSION=0.01)
    with caplog.at_level(logging.WARNING, logger="spillway.api"):
        for _ in range(2):
            assert (await client.post(SUBMIT, json={})).status_code == 202
    warnings = [r.getMessage() for r in caplog.records if "admission is off" in r.getMessage()]
    assert len(warnings) == 1 and "no maxmemory" in warnings[0]


async def test_a_user_without_info_submits_with_admission_off(
    client: httpx.AsyncClient,
    use_settings: Callable[..., Settings],
    own_redis: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    admin = redis.Redis.from_url(own_redis.url)
    admin.acl_setuser(
        "producer",
        enabled=True,
        passwords=["+pw"],
        keys=["*"],
        channels=["*"],
        commands=["+@all", "-info"],
    )
    admin.close()
    use_settings(REDIS_URL=f"redis://producer:pw@127.0.0.1:{own_redis.port}/0")
    with caplog.at_level(logging.WARNING, logger="spillway.api"):
        assert (await client.post(SUBMIT, json={})).status_code == 202
    assert any("INFO memory was refused" in r.getMessage() for r in caplog.records)
