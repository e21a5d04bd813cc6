"""One API and one worker shared by a module's tests (each starts in a few seconds)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.support.processes import Proc, start_api, start_worker


@pytest.fixture(scope="module")
def shared_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the module's shared Redis, closed when the module ends."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def shared_redis(redis_url: str, shared_client: redis.Redis) -> str:
    shared_client.flushdb()
    return redis_url


@pytest.fixture(scope="module")
def shared_api(shared_redis: str) -> Iterator[Proc]:
    proc = start_api(shared_redis)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def shared_worker(shared_redis: str) -> Iterator[Proc]:
    proc = start_worker(shared_redis)
    yield proc
    proc.stop()


@pytest.fixture
def counter_key(request: pytest.FixtureRequest) -> str:
    return f"calls:{request.node.name}"
