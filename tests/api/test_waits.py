"""Caps on concurrent ?wait= requests (functions/api/waits.py): per key and per process, a
429 problem before anything is enqueued, and slots given back when waits end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
import redis

from functions.api.main import app
from functions.settings import Settings
from tests.support.apikeys import bearer

pytestmark = pytest.mark.anyio

SLEEP = "/v1/functions/sleep/invocations"


async def test_waits_are_capped_per_key_and_per_process(
    auth_client: httpx.AsyncClient,
    make_key: Callable[..., str],
    use_settings: Callable[..., Settings],
    redis_client: redis.Redis,
) -> None:
    use_settings(AUTH="required", MAX_WAITS=2, MAX_WAITS_PER_KEY=1)
    one, two, three = (make_key(rate=0) for _ in range(3))
    submitter = app.state.submitter
    # No worker: each ?wait holds its slot for the whole second.
    held = asyncio.create_task(
        auth_client.post(SLEEP + "?wait=1", json={"seconds": 0}, headers=bearer(one))
    )
    while submitter.waits.held < 1:
        await asyncio.sleep(0.01)
    same_key = await auth_client.post(SLEEP + "?wait=1", json={"seconds": 0}, headers=bearer(one))
    assert same_key.status_code == 429
    assert same_key.json()["type"] == "urn:spillway:problem:too-many-waits"
    assert "SPILLWAY_MAX_WAITS_PER_KEY" in same_key.json()["detail"]
    assert same_key.headers["retry-after"] == "1"
    # Without ?wait the same key is not limited by it.
    no_wait = await auth_client.post(SLEEP, json={"seconds": 0}, headers=bearer(one))
    assert no_wait.status_code == 202
    second = asyncio.create_task(
        auth_client.post(SLEEP + "?wait=1", json={"seconds": 0}, headers=bearer(two))
    )
    while submitter.waits.held < 2:
        await asyncio.sleep(0.01)
    pod_full = await auth_client.post(SLEEP + "?wait=1", json={"seconds": 0}, headers=bearer(three))
    assert pod_full.status_code == 429
    assert "(SPILLWAY_MAX_WAITS)" in pod_full.json()["detail"]
    assert redis_client.llen("spillway") == 3  # the two held and the one without ?wait
    assert [(await t).status_code for t in (held, second)] == [202, 202]
    assert submitter.waits.held == 0
    again = await auth_client.post(SLEEP + "?wait=0.1", json={"seconds": 0}, headers=bearer(one))
    assert again.status_code == 202


async def test_a_refused_submit_gives_its_wait_slot_back(
    auth_client: httpx.AsyncClient,
    make_key: Callable[..., str],
    use_settings: Callable[..., Settings],
) -> None:
    use_settings(AUTH="required", MAX_WAITS_PER_KEY=1, MAX_BACKLOG=1)
    token = make_key(rate=0)
    submitter = app.state.submitter
    assert (await auth_client.post(SLEEP, json={"seconds": 0}, headers=bearer(token))).is_success
    full = await auth_client.post(SLEEP + "?wait=1", json={"seconds": 0}, headers=bearer(token))
    assert full.json()["type"] == "urn:spillway:problem:backlog-full"
    assert submitter.waits.held == 0
