"""Per-key quotas inside the submit script (functions/api/quotas.py): rate (GCRA) and the
tenant's backlog share, their 429 problems and RateLimit headers, and that a refused submit
wrote nothing."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import redis

from functions.api import metrics
from functions.settings import Settings
from tests.support.apikeys import bearer

pytestmark = pytest.mark.anyio

ECHO = "/v1/functions/echo/invocations"


def rejected(reason: str) -> float:
    return float(metrics.REJECTED.labels("echo", reason)._value.get())


def written(redis_client: redis.Redis) -> tuple[int, int]:
    """(messages in the echo queue, invocation records)."""
    records = sum(1 for _ in redis_client.scan_iter("spillway:inv:*"))
    return int(redis_client.llen("spillway")), records


async def test_over_the_rate_is_429_with_ratelimit_headers_and_nothing_written(
    auth_client: httpx.AsyncClient, make_key: Callable[..., str], redis_client: redis.Redis
) -> None:
    token = make_key(rate=0.5, burst=2)
    before = rejected("rate_limited")
    answers = [await auth_client.post(ECHO, json={}, headers=bearer(token)) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert "ratelimit" not in answers[0].headers  # only refusals carry them (quotas.py)
    refused = answers[2]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:spillway:problem:rate-limited"
    # The next one is due 2 s after the first (rate 0.5/s): Retry-After rounds it up.
    assert 1 <= int(refused.headers["retry-after"]) <= 2
    assert refused.headers["ratelimit-policy"] == '"burst";q=2;w=4'
    assert refused.headers["ratelimit"] == f'"burst";r=0;t={refused.headers["retry-after"]}'
    assert written(redis_client) == (2, 2)
    assert rejected("rate_limited") == before + 1


async def test_a_batch_counts_as_its_items(
    auth_client: httpx.AsyncClient, make_key: Callable[..., str], redis_client: redis.Redis
) -> None:
    token = make_key(rate=0.1, burst=5)
    items = {"items": [{"n": i} for i in range(3)]}
    first = await auth_client.post(ECHO + "/batch", json=items, headers=bearer(token))
    second = await auth_client.post(ECHO + "/batch", json=items, headers=bearer(token))
    assert (first.status_code, second.status_code) == (202, 429)
    assert written(redis_client) == (3, 3)
    too_big = await auth_client.post(
        ECHO + "/batch", json={"items": [{}] * 6}, headers=bearer(make_key(rate=0.1, burst=5))
    )
    assert too_big.status_code == 429
    assert "larger than this key's burst" in too_big.json()["detail"]


async def test_the_rate_is_per_key(
    auth_client: httpx.AsyncClient, make_key: Callable[..., str]
) -> None:
    one, two = make_key(rate=0.1, burst=1), make_key(rate=0.1, burst=1)
    assert (await auth_client.post(ECHO, json={}, headers=bearer(one))).status_code == 202
    assert (await auth_client.post(ECHO, json={}, headers=bearer(one))).status_code == 429
    assert (await auth_client.post(ECHO, json={}, headers=bearer(two))).status_code == 202


async def test_over_the_tenant_share_is_its_own_429(
    auth_client: httpx.AsyncClient, make_key: Callable[..., str], redis_client: redis.Redis
) -> None:
    token = make_key("acme", rate=0, max_backlog=3)
    before = rejected("tenant_backlog")
    batch = await auth_client.post(ECHO + "/batch", json={"items": [{}, {}]}, headers=bearer(token))
    assert batch.status_code == 202
    assert redis_client.get("spillway:tenant:acme:backlog") == b"2"
    over = await auth_client.post(ECHO + "/batch", json={"items": [{}, {}]}, headers=bearer(token))
    assert over.status_code == 429
    assert over.json()["type"] == "urn:spillway:problem:tenant-backlog-full"
    assert over.headers["ratelimit-policy"] == '"backlog";q=3;qu="concurrent-requests"'
    assert over.headers["ratelimit"] == '"backlog";r=1;t=2'
    assert over.headers["retry-after"] == "2"
    assert rejected("tenant_backlog") == before + 2
    assert written(redis_client) == (2, 2)
    # Another key of the same tenant shares the count; another tenant does not.
    sibling = make_key("acme", rate=0, max_backlog=2)
    assert (await auth_client.post(ECHO, json={}, headers=bearer(sibling))).status_code == 429
    other = make_key("other", rate=0, max_backlog=2)
    assert (await auth_client.post(ECHO, json={}, headers=bearer(other))).status_code == 202


async def test_the_queue_limit_stays_a_third_kind_of_429(
    auth_client: httpx.AsyncClient,
    make_key: Callable[..., str],
    use_settings: Callable[..., Settings],
) -> None:
    use_settings(AUTH="required", MAX_BACKLOG=1)
    token = make_key(rate=0, max_backlog=0)
    assert (await auth_client.post(ECHO, json={}, headers=bearer(token))).status_code == 202
    full = await auth_client.post(ECHO, json={}, headers=bearer(token))
    assert full.json()["type"] == "urn:spillway:problem:backlog-full"


async def test_defaults_come_from_the_settings(
    auth_client: httpx.AsyncClient,
    make_key: Callable[..., str],
    use_settings: Callable[..., Settings],
) -> None:
    use_settings(AUTH="required", KEY_RATE=0.1, KEY_BURST=1, TENANT_MAX_BACKLOG=0)
    token = make_key()
    assert (await auth_client.post(ECHO, json={}, headers=bearer(token))).status_code == 202
    second = await auth_client.post(ECHO, json={}, headers=bearer(token))
    assert second.status_code == 429
    assert second.headers["ratelimit-policy"] == '"burst";q=1;w=10'
