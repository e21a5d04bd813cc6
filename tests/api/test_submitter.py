"""The Submitter's reads for the probes and /metrics: the write probe, and the backlog in one
round trip."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis

from functions.api.main import redis_client, registry
from functions.api.resp import ReplyError
from functions.api.submit import RedisUnavailable, Submitter
from functions.localredis import free_port
from functions.settings import Settings

pytestmark = pytest.mark.anyio


async def _submitter(url: str, **overrides: object) -> AsyncIterator[Submitter]:
    settings = Settings(REDIS_URL=url, **overrides)  # type: ignore[arg-type]
    client = redis_client(settings.REDIS_URL, settings.REDIS_TIMEOUT)
    yield Submitter(client, settings, registry)
    await client.aclose()


@pytest.fixture
async def submitter(redis_url: str, redis_client: redis.Redis) -> AsyncIterator[Submitter]:
    async for s in _submitter(redis_url, KEY_PREFIX="sub:"):
        yield s


async def test_ping_and_backlog_read_what_redis_holds(
    submitter: Submitter, redis_client: redis.Redis
) -> None:
    await submitter.probe()
    echo = registry.get("echo")
    assert echo is not None
    await submitter.submit(echo, ["{}", "{}"])
    redis_client.hset("sub:unacked", mapping={"tag-1": "m", "tag-2": "m", "tag-3": "m"})
    backlog = await submitter.backlog()
    assert backlog.queued == {queue: 2 if queue == echo.queue else 0 for queue in registry.queues()}
    assert backlog.in_flight == 3


async def test_a_key_of_another_type_is_a_reply_error(
    submitter: Submitter, redis_client: redis.Redis
) -> None:
    redis_client.set("sub:unacked", "not a hash")
    with pytest.raises(ReplyError, match="WRONGTYPE"):
        await submitter.backlog()


async def test_both_reads_raise_redis_unavailable_when_nothing_answers() -> None:
    async for submitter in _submitter(f"redis://127.0.0.1:{free_port()}/0"):
        with pytest.raises(RedisUnavailable):
            await submitter.probe()
        with pytest.raises(RedisUnavailable):
            await submitter.backlog()
