"""Loading SPILLWAY_KEYS_FILE (functions/apikeys/specs.py) into Redis when the API starts.

The file is read before the API serves (a broken file stops the start with one line); the
writes are retried in the background until Redis takes them, so a Redis that is down at a cold
start delays the file's keys, not the API's readiness.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from functions.api.submit import RedisUnavailable, Submitter
from functions.apikeys import specs
from functions.apikeys.model import ApiKey

log = logging.getLogger("spillway.api")


async def load(submitter: Submitter, found: list[ApiKey], retry: float = 1.0) -> None:
    settings = submitter.settings

    async def run(commands: list[tuple[Any, ...]]) -> list[Any]:
        replies: list[Any] = await submitter.call(
            submitter.redis.pipeline(commands, timeout=settings.REDIS_TIMEOUT)
        )
        return replies

    while True:
        try:
            written = await specs.apply(found, settings.KEY_PREFIX, run)
        except RedisUnavailable as exc:
            log.warning("SPILLWAY_KEYS_FILE: Redis unavailable (%s); retrying", exc)
            await asyncio.sleep(retry)
            continue
        log.info(
            "SPILLWAY_KEYS_FILE: %d keys, %d written (the others were unchanged)",
            len(found),
            written,
        )
        return
