"""The API's RESP client against real redis-server processes."""

from __future__ import annotations

import asyncio

import pytest
import redis

from functions.api.resp import Address, Client, NotSent, ReplyError, Script, Unanswered
from functions.localredis import RedisServer, free_port
from tests.api.conftest import paused

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_urls_are_parsed_with_credentials_database_and_tls() -> None:
    a = Address.from_url("rediss://user:p%40ss@cache.example:6380/3")
    assert (a.host, a.port, a.db, a.username, a.password, a.tls) == (
        "cache.example",
        6380,
        3,
        "user",
        "p@ss",
        True,
    )
    b = Address.from_url("redis://:secret@redis/0")
    assert (b.host, b.port, b.username, b.password, b.db) == ("redis", 6379, None, "secret", 0)
    c = Address.from_url("unix:///var/run/redis.sock?db=2")
    assert (c.path, c.db) == ("/var/run/redis.sock", 2)
    with pytest.raises(ValueError, match="scheme"):
        Address.from_url("http://x")


async def test_commands_pipelines_and_error_replies(redis_url: str) -> None:
    client = Client(redis_url)
    try:
        assert await client.execute("PING") == b"PONG"
        await client.execute("DEL", "resp:l")
        replies = await client.pipeline(
            [
                ("RPUSH", "resp:l", "a", "b"),
                ("LRANGE", "resp:l", 0, -1),
                ("GET", "resp:none"),
                ("INCR", "resp:l"),
            ]
        )
        assert replies[:3] == [2, [b"a", b"b"], None]
        assert isinstance(replies[3], ReplyError) and str(replies[3]).startswith("WRONGTYPE")
        with pytest.raises(ReplyError, match="WRONGTYPE"):
            await client.execute("INCR", "resp:l")
        assert await client.execute("SET", "resp:bin", b"\x00\r\n\xff") == b"OK"
        assert await client.execute("GET", "resp:bin") == b"\x00\r\n\xff"
    finally:
        await client.aclose()


async def test_scripts_fall_back_to_eval_after_a_script_flush(redis_url: str) -> None:
    client = Client(redis_url)
    script = Script("return {KEYS[1], ARGV[1]}")
    try:
        await client.execute("SCRIPT", "FLUSH")
        assert await client.run_script(script, ["k"], ["v"]) == [b"k", b"v"]
        assert await client.execute("SCRIPT", "EXISTS", script.sha) == [1]
        assert await client.run_script(script, ["k2"], [3]) == [b"k2", b"3"]
    finally:
        await client.aclose()


@pytest.fixture
def password_redis(own_redis: RedisServer) -> RedisServer:
    redis.Redis.from_url(own_redis.url).config_set("requirepass", "s3cret")
    return own_redis


async def test_auth_and_database_selection(password_redis: RedisServer) -> None:
    url = f"redis://:s3cret@127.0.0.1:{password_redis.port}/4"
    client = Client(url)
    try:
        await client.execute("SET", "where", "db4")
        assert await client.execute("CLIENT", "INFO") is not None
        info = (await client.execute("CLIENT", "INFO")).decode()
        assert " db=4 " in info
    finally:
        await client.aclose()
    wrong = Client(f"redis://:nope@127.0.0.1:{password_redis.port}/0")
    with pytest.raises(ConnectionError, match="refused the connection setup"):
        await wrong.execute("PING")
    await wrong.aclose()


async def test_a_restarted_server_is_reconnected_without_errors(own_redis: RedisServer) -> None:
    client = Client(own_redis.url)
    try:
        await client.pipeline([("PING",)] * 1)
        own_redis.stop()
        with pytest.raises(OSError):
            await client.execute("PING")
        own_redis.start()
        await asyncio.sleep(0.05)
        assert await client.execute("PING") == b"PONG"
    finally:
        await client.aclose()


async def test_idle_connections_dropped_by_the_server_are_not_reused(
    own_redis: RedisServer,
) -> None:
    client = Client(own_redis.url)
    try:
        await asyncio.gather(*(client.execute("PING") for _ in range(5)))
        own_redis.stop()
        own_redis.start()
        await asyncio.sleep(0.05)  # the loop sees the old connections' EOF
        results = await asyncio.gather(*(client.execute("PING") for _ in range(5)))
        assert results == [b"PONG"] * 5
    finally:
        await client.aclose()


async def test_a_cancelled_call_does_not_poison_the_pool(redis_url: str) -> None:
    client = Client(redis_url, max_connections=1)
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await client.execute("BLPOP", "resp:never", 5)
        # The connection blocked in BLPOP was closed, not handed to the next caller.
        assert await client.execute("PING") == b"PONG"
    finally:
        await client.aclose()


async def test_connecting_to_nothing_fails_fast() -> None:
    client = Client(f"redis://127.0.0.1:{free_port()}/0", connect_timeout=0.5)
    with pytest.raises(NotSent):
        await client.execute("PING")


async def test_a_command_written_to_a_paused_redis_is_unanswered_and_runs_later(
    own_redis: RedisServer,
) -> None:
    """What makes "nothing happened" false: the deadline stops the wait, not the command. Redis
    reads a closed client's buffered commands before it sees the close, so the INCR runs once
    Redis resumes although nobody waits for its reply any more."""
    client = Client(own_redis.url)
    check = redis.Redis.from_url(own_redis.url)
    try:
        await client.execute("PING")  # a pooled connection, so the INCR goes straight out
        with paused(own_redis):
            with pytest.raises(Unanswered) as caught:
                await client.execute("INCR", "resp:ran", timeout=0.2)
            assert isinstance(caught.value.__cause__, TimeoutError)
        assert check.get("resp:ran") == b"1"
    finally:
        check.close()
        await client.aclose()


async def test_a_deadline_before_the_write_is_not_sent_and_nothing_runs(
    own_redis: RedisServer,
) -> None:
    """With a password, a new connection waits for AUTH's reply before anything else is
    written: a paused Redis times the setup out and the command itself never leaves."""
    redis.Redis.from_url(own_redis.url).config_set("requirepass", "s3cret")
    client = Client(f"redis://:s3cret@127.0.0.1:{own_redis.port}/0")
    check = redis.Redis.from_url(f"redis://:s3cret@127.0.0.1:{own_redis.port}/0")
    try:
        with paused(own_redis):
            with pytest.raises(NotSent):
                await client.execute("INCR", "resp:ran", timeout=0.2)
        assert check.get("resp:ran") is None
        assert await client.execute("INCR", "resp:ran") == 1
    finally:
        check.close()
        await client.aclose()


async def test_waiting_for_a_free_connection_past_the_deadline_is_not_sent(
    own_redis: RedisServer,
) -> None:
    client = Client(own_redis.url, max_connections=1)
    try:
        await client.execute("PING")
        with paused(own_redis):
            held = asyncio.ensure_future(client.execute("BLPOP", "resp:never", 0, timeout=5))
            await asyncio.sleep(0.05)  # BLPOP holds the only connection
            with pytest.raises(NotSent):
                await client.execute("INCR", "resp:ran", timeout=0.1)
            held.cancel()
        check = redis.Redis.from_url(own_redis.url)
        assert check.get("resp:ran") is None
        check.close()
    finally:
        await client.aclose()
