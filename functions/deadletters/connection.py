"""The store's Redis for `spillway dlq`: redis-py's asyncio client, errors made one line.

The API runs the same scripts through its own RESP client (functions/api/deps.py); the CLI is
not on a hot path and uses redis-py, which the worker already depends on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from functions.deadletters.errors import StoreUnavailable
from functions.deadletters.store import Lua
from functions.settings import redact_url


class Connection:
    """A ScriptRunner (functions/deadletters/store.py) over one redis-py asyncio client."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self.client = aioredis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    async def run(self, script: Lua, args: Sequence[str | int | float]) -> Any:
        try:
            try:
                return await self.client.evalsha(script.sha, 0, *args)
            except NoScriptError:
                return await self.client.eval(script.source, 0, *args)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(
                f"cannot reach Redis at {redact_url(self.url)} (REDIS_URL): {exc}"
            ) from None
        except RedisError as exc:
            raise StoreUnavailable(f"Redis refused the dead-letter script: {exc}") from None

    async def aclose(self) -> None:
        await self.client.aclose()
