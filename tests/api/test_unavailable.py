"""Redis answering but refusing to serve is unavailability: 503, never 500, and /readyz says so.

Each state is produced in a real redis-server (6.2 and 7.0 in a full `scripts/test` run), as
Redis produces it:

- MISCONF: `stop-writes-on-bgsave-error` (default yes) with save points and a failed BGSAVE
  (redis 7.0.15 src/server.c, processCommand and writeCommandsDeniedByDiskError; it refuses
  PING too on a master);
- NOREPLICAS: `min-replicas-to-write` above the connected replicas (processCommand);
- max clients: a connection over `maxclients` gets "-ERR max number of clients reached" and is
  closed (src/networking.c, acceptCommonHandler);
- OOM: over `maxmemory` with noeviction (6.2 wraps it as "ERR Error running script ... -OOM"
  when a script's write is refused: src/scripting.c, evalGenericCommand).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from functions import keys
from functions.localredis import RedisServer
from functions.settings import Settings

pytestmark = pytest.mark.anyio


def _misconf(server: RedisServer, admin: redis.Redis) -> Callable[[], object]:
    admin.config_set("save", "3600 1")
    (Path(server.workdir) / "dump.rdb" / "blocked").mkdir(parents=True)  # the rename fails
    admin.set("spillway:test:dirty", 1)
    admin.bgsave()
    deadline = time.monotonic() + 10
    while admin.info("persistence")["rdb_last_bgsave_status"] != "err":
        assert time.monotonic() < deadline, "BGSAVE did not fail"
        time.sleep(0.05)
    return lambda: admin.config_set("stop-writes-on-bgsave-error", "no")


def _noreplicas(server: RedisServer, admin: redis.Redis) -> Callable[[], object]:
    admin.config_set("min-replicas-to-write", 1)
    return lambda: admin.config_set("min-replicas-to-write", 0)


def _maxclients(server: RedisServer, admin: redis.Redis) -> Callable[[], object]:
    admin.ping()  # the admin connection is the one client allowed
    admin.config_set("maxclients", 1)
    return lambda: admin.config_set("maxclients", 10_000)


def _oom(server: RedisServer, admin: redis.Redis) -> Callable[[], object]:
    admin.config_set("maxmemory", 1)
    return lambda: admin.config_set("maxmemory", 0)


# What a pod that reached Redis sees; max clients only refuses new connections (below).
STATES = {"misconf": _misconf, "noreplicas": _noreplicas, "oom": _oom}


@dataclass
class Refusal:
    """One refusing state of a private Redis, entered on demand and undone after the test."""

    name: str
    server: RedisServer
    admin: redis.Redis  # a connection that still works while Redis refuses others
    undo: Callable[[], object] | None = None

    def enter(self) -> None:
        self.undo = STATES[self.name](self.server, self.admin)


@pytest.fixture(params=sorted(STATES))
def refusal(request: pytest.FixtureRequest, own_redis: RedisServer) -> Iterator[Refusal]:
    admin = redis.Redis.from_url(own_redis.url, single_connection_client=True)
    admin.ping()
    state = Refusal(request.param, own_redis, admin)
    yield state
    if state.undo is not None:
        state.undo()
    admin.close()


async def test_a_refusing_redis_is_503_unavailable_and_nothing_is_enqueued(
    client: httpx.AsyncClient,
    use_settings: Callable[..., Settings],
    own_redis: RedisServer,
    refusal: Refusal,
) -> None:
    use_settings(REDIS_URL=own_redis.url, RETRY_AFTER=3)
    assert (await client.get("/readyz")).json() == {"status": "ok"}
    refusal.enter()
    for path, body in (
        ("/v1/functions/echo/invocations", {"n": 1}),
        ("/v1/functions/echo/invocations/batch", {"items": [{"n": 1}, {"n": 2}]}),
    ):
        response = await client.post(path, json=body)
        assert response.status_code == 503, (refusal.name, response.text)
        problem = response.json()
        assert problem["type"] == "urn:spillway:problem:queue-unavailable", problem
        assert "nothing was enqueued" in problem["detail"]
        assert response.headers["retry-after"] == "3"
    assert refusal.admin.llen("spillway") == 0
    assert refusal.admin.keys(keys.record_key("", "*")) == []
    # The pod stays ready (functions/api/routes/health.py says why) and says what is wrong.
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    if refusal.name == "oom":  # a write that frees still works: the memory sample reports it
        assert ready.json() == {"status": "ok"}
    else:
        assert ready.json() == {"status": "degraded", "redis": ready.json()["redis"]}
        assert refusal.name.upper() in ready.json()["redis"]


async def test_over_maxclients_new_connections_are_refused_and_nothing_is_enqueued(
    client: httpx.AsyncClient, use_settings: Callable[..., Settings], own_redis: RedisServer
) -> None:
    """Connections already open keep working; a new one gets the error instead of a reply to
    its handshake, so the submit is never written (503 unavailable, not outcome unknown), and
    a pod that never reached Redis is not ready."""
    admin = redis.Redis.from_url(own_redis.url, single_connection_client=True)
    undo = _maxclients(own_redis, admin)
    try:
        use_settings(REDIS_URL=own_redis.url)
        for path, body in (
            ("/v1/functions/echo/invocations", {"n": 1}),
            ("/v1/functions/echo/invocations/batch", {"items": [{"n": 1}]}),
        ):
            response = await client.post(path, json=body)
            assert response.status_code == 503, response.text
            assert response.json()["type"] == "urn:spillway:problem:queue-unavailable"
        read = await client.get("/v1/invocations/7c9e6679-7425-40de-944b-e07fc1f90ae7")
        assert read.status_code == 503, read.text
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and "max number of clients" in ready.json()["redis"]
        assert admin.llen("spillway") == 0
        assert admin.keys(keys.record_key("", "*")) == []
    finally:
        undo()
        admin.close()
