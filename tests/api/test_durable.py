"""Durable submits against a real primary and replica (functions/api/durability.py).

`WAIT numreplicas timeout` returns how many replicas acknowledged the connection's writes so far
(redis src/replication.c, waitCommand; commands/wait.md); a replica acknowledges the offset it
has processed (replicationSendAck), so after a 202 the record is readable on the replica.
`WAITAOF` exists from Redis 7.2 only (commands/waitaof.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import redis

from functions import keys
from functions.localredis import RedisServer
from functions.settings import Settings
from tests.api.conftest import paused
from tests.support.processes import redis_server_or_skip

pytestmark = pytest.mark.anyio
SUBMIT = "/v1/functions/echo/invocations"


def _version(url: str) -> tuple[int, ...]:
    client = redis.Redis.from_url(url)
    try:
        return tuple(int(x) for x in str(client.info("server")["redis_version"]).split("."))
    finally:
        client.close()


def _synced(replica: redis.Redis, primary: redis.Redis) -> bool:
    """The replica acknowledges writes: right after a full sync, Redis 7.0's first WAITs time
    out for about half a second although both sides already say the link is up."""
    if replica.info("replication").get("master_link_status") != "up":
        return False
    primary.set("spillway:test:synced", 1)
    return int(primary.execute_command("WAIT", 1, 100)) == 1  # type: ignore[no-untyped-call]


@pytest.fixture
def replica(own_redis: RedisServer) -> Iterator[RedisServer]:
    """A second redis-server replicating `own_redis`, linked and in sync."""
    server = redis_server_or_skip("needs a second redis-server as a replica")
    primary = redis.Redis.from_url(own_redis.url)
    primary.config_set("repl-diskless-sync-delay", 0)  # 7.0 waits 5 s for more replicas
    client = redis.Redis.from_url(server.url)
    client.replicaof("127.0.0.1", own_redis.port)
    deadline = time.monotonic() + 10
    # Both sides: the replica's link is up, and the primary counts it online (after its first
    # acknowledgment), which is what WAIT and INFO count.
    while not _synced(client, primary):
        assert time.monotonic() < deadline, "the replica did not sync"
        time.sleep(0.05)
    client.close()
    primary.close()
    yield server
    server.close()


async def test_a_202_waits_until_the_replica_has_the_submit(
    client: httpx.AsyncClient,
    use_settings: Callable[..., Settings],
    own_redis: RedisServer,
    replica: RedisServer,
) -> None:
    use_settings(REDIS_URL=own_redis.url, DURABLE_REPLICAS=1, DURABLE_TIMEOUT=0.3)
    assert (await client.get("/readyz")).json() == {"status": "ok"}
    check = redis.Redis.from_url(replica.url)
    try:
        for n in range(20):
            response = await client.post(SUBMIT, json={"n": n})
            assert response.status_code == 202, response.text
            # No sleep: the replica acknowledged before the API answered.
            assert check.exists(keys.record_key("", response.json()["id"])) == 1
        batch = await client.post(SUBMIT + "/batch", json={"items": [{"n": 1}, {"n": 2}]})
        assert batch.status_code == 202
        assert check.exists(*(keys.record_key("", i) for i in batch.json()["ids"])) == 2
    finally:
        check.close()


async def test_a_replica_that_does_not_acknowledge_makes_the_outcome_unknown(
    client: httpx.AsyncClient,
    use_settings: Callable[..., Settings],
    own_redis: RedisServer,
    replica: RedisServer,
) -> None:
    """Paused, the replica stays connected but acknowledges nothing: the submit is on the
    primary only, so the producer gets outcome-unknown with the id, never a 202."""
    use_settings(
        REDIS_URL=own_redis.url, DURABLE_REPLICAS=1, DURABLE_TIMEOUT=0.1, REDIS_TIMEOUT=1.0
    )
    with paused(replica):
        started = time.monotonic()
        response = await client.post(SUBMIT, json={"n": 1})
        elapsed = time.monotonic() - started
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["type"] == "urn:spillway:problem:outcome-unknown"
    assert "0 of 1 replicas" in body["detail"]
    assert 0.1 <= elapsed < 1.0  # WAIT's timeout, up to Redis's 100 ms tick late
    state = await client.get(f"/v1/invocations/{body['ids'][0]}")
    assert state.json()["status"] == "queued"  # on the primary, as the answer allowed


async def test_readiness_reports_missing_replicas(
    client: httpx.AsyncClient,
    use_settings: Callable[..., Settings],
    own_redis: RedisServer,
    replica: RedisServer,
) -> None:
    use_settings(REDIS_URL=own_redis.url, DURABLE_REPLICAS=1)
    assert (await client.get("/readyz")).json() == {"status": "ok"}
    replica.stop()
    primary = redis.Redis.from_url(own_redis.url)
    deadline = time.monotonic() + 10
    while primary.info("replication")["connected_slaves"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    primary.close()
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "degraded", ready.text
    assert "0 of 1 replicas" in ready.json()["redis"]
    refused = await client.post(SUBMIT, json={})
    assert refused.json()["type"] == "urn:spillway:problem:outcome-unknown"


async def test_fsync_on_a_redis_without_waitaof_never_becomes_ready(
    client: httpx.AsyncClient, use_settings: Callable[..., Settings], own_redis: RedisServer
) -> None:
    if _version(own_redis.url) >= (7, 2):
        pytest.skip("this Redis has WAITAOF")
    use_settings(REDIS_URL=own_redis.url, DURABLE_FSYNC=True)
    for _ in range(2):
        ready = await client.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert "needs Redis 7.2 or later" in ready.json()["redis"], ready.text


async def test_fsync_waits_for_the_aof_on_redis_7_2(
    client: httpx.AsyncClient, use_settings: Callable[..., Settings], own_redis: RedisServer
) -> None:
    """Runs where the Redis under test is 7.2 or later (SPILLWAY_REDIS_SERVER); the machines
    this suite was written on have 6.2 and 7.0 only."""
    if _version(own_redis.url) < (7, 2):
        pytest.skip("WAITAOF needs Redis 7.2 or later")
    admin = redis.Redis.from_url(own_redis.url)
    use_settings(REDIS_URL=own_redis.url, DURABLE_FSYNC=True)
    ready = await client.get("/readyz")
    assert ready.status_code == 503 and "appendonly" in ready.json()["redis"], ready.text
    admin.config_set("appendonly", "yes")
    admin.close()
    time.sleep(0.5)  # the initial AOF rewrite
    assert (await client.get("/readyz")).json() == {"status": "ok"}
    assert (await client.post(SUBMIT, json={})).status_code == 202
