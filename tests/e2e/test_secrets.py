"""The README's promise: the Redis password never appears in the API's or a worker's logs."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import redis

from functions.localredis import RedisServer
from tests.support.processes import Proc

pytestmark = pytest.mark.e2e
SECRET = "s3cret-Pa55word"


def test_redis_password_stays_out_of_the_logs(
    own_redis: RedisServer,
    api_factory: Callable[..., Proc],
    worker_factory: Callable[..., Proc],
) -> None:
    redis.Redis.from_url(own_redis.url).config_set("requirepass", SECRET)
    url = f"redis://:{SECRET}@127.0.0.1:{own_redis.port}/0"
    api = api_factory(url, SPILLWAY_LOG_LEVEL="DEBUG")
    worker = worker_factory(url, SPILLWAY_LOG_LEVEL="DEBUG")
    response = httpx.post(f"{api.url}/v1/functions/echo/invocations?wait=10", json={"a": 1})
    assert response.status_code == 200, response.text
    for proc in (api, worker):
        assert SECRET not in proc.log(), f"{proc.name} logged the Redis password"
