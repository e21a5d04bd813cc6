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


STATES = {"misconf": _misconf, "noreplicas": _noreplicas, "maxclients": _maxclients, "oom": _oom}


@pytest.fixture(params=sorted(STATES))
def refusing(
    request: pytest.FixtureRequest, own_redis: RedisServer
) -> Iterator[tuple[str, redis.Redis]]:
    """A private Redis in one refusing state: its name, and a connection that still works."""
    admin = redis.Redis.from_url(own_redis.url, single_connection_client=True)
    undo = STATES[request.param](own_redis, admin)
    yield request.param, admin
    undo()
    admin.close()


async def test_a_refusing_redis_is_503_unavailable_and_nothing_is_enqueued(
    client: httpx.AsyncClient,
    use_settings: Callable[..., Settings],
    own_redis: RedisServer,
    refusing: tuple[str, redis.Redis],
) -> None:
    state, admin = refusing
    use_settings(REDIS_URL=own_redis.url, RETRY_AFTER=3)
    for path, body in (
        ("/v1/functions/echo/invocations", {"n": 1}),
        ("/v1/functions/echo/invocations/batch", {"items": [{"n": 1}, {"n": 2}]}),
    ):
        response = await client.post(path, json=body)
        assert response.status_code == 503, (state, response.text)
        problem = response.json()
        assert problem["type"] == "urn:spillway:problem:queue-unavailable", problem
        assert "nothing was enqueued" in problem["detail"]
        assert response.headers["retry-after"] == "3"
    assert admin.llen("spillway") == 0
    assert admin.keys(keys.record_key("", "*")) == []
    ready = await client.get("/readyz")
    if state == "oom":  # a write that frees still works; the memory sample reports this one
        assert ready.status_code == 200, ready.text
    else:
        assert ready.status_code == 503, (state, ready.text)
    if state == "maxclients":  # no connection at all: reads are unavailable too
        read = await client.get("/v1/invocations/7c9e6679-7425-40de-944b-e07fc1f90ae7")
        assert read.status_code == 503, read.text
