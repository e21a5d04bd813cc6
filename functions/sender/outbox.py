"""The outbox in Redis, as one sender sees it: take, settle, sweep, release.

Where a delivery is, at every moment (each move is one Redis command or script, so it is always
in exactly one place):

    spillway:outbox                      ready (the worker's final scripts LPUSH; notify in
                                         functions/worker/lua/_lib.lua)
    spillway:outbox:processing:<sender>  taken by one sender (BLMOVE: atomic, and blocking, so
                                         an idle sender costs Redis nothing)
    spillway:outbox:retry                waiting for its next attempt (zset by due time)
    the dead-letter store, queue `spillway:outbox`   given up on (callback_failed)

A sender holds a lease (zset `spillway:outbox:senders`), renewed by its sweep every second; once
it expires, any sender's sweep moves the dead one's processing list back to the outbox. So a
sender killed between taking and settling loses nothing: the delivery is sent again (at least
once; the receiver dedupes by `webhook-id` / CloudEvent `id`, which stay the same).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from redis import asyncio as aioredis
from redis.commands.core import AsyncScript

from functions import keys


@cache
def _source(name: str) -> str:
    library = resources.files("functions.worker") / "lua" / "_lib.lua"
    own = resources.files("functions.sender") / "lua" / f"{name}.lua"
    return library.read_text() + "\n" + own.read_text()


@dataclass(frozen=True, slots=True)
class Settlement:
    """What became of one attempt: `outcome` delivered, retry (with `due_ms` and the item for
    the next attempt) or failed (dead-lettered with `error`)."""

    outcome: str
    attempts: int
    status: int | None = None
    error: str = ""
    error_type: str = ""
    next_item: str = ""
    due_ms: int = 0


class Outbox:
    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        sender: str,
        *,
        lease_ttl: float,
        record_ttl: int,
        dead_letter_max: int,
        dead_letter_max_bytes: int,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.sender = sender
        self.lease_ttl = lease_ttl
        self.record_ttl = record_ttl
        self.dead_letter_max = dead_letter_max
        self.dead_letter_max_bytes = dead_letter_max_bytes
        self.ready = keys.outbox_key(prefix)
        self.retry = keys.outbox_retry_key(prefix)
        self.processing = keys.outbox_processing_key(prefix, sender)
        self.senders = keys.outbox_senders_key(prefix)
        self._scripts: dict[str, AsyncScript] = {}

    async def _run(self, name: str, keys_: list[str], args: list[Any]) -> Any:
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self.redis.register_script(_source(name))
        return await script(keys=keys_, args=[self.prefix, *args])

    async def announce_events(self, enabled: bool) -> None:
        """Tell the workers whether to queue completion events (keys.outbox_events_key)."""
        if enabled:
            await self.redis.set(keys.outbox_events_key(self.prefix), "1")
        else:
            await self.redis.delete(keys.outbox_events_key(self.prefix))

    async def sweep(self, limit: int = 500) -> tuple[int, int]:
        """Renew this sender's lease; promote due retries; reclaim dead senders' deliveries."""
        promoted, reclaimed = await self._run(
            "sweep",
            [self.senders, self.retry, self.ready],
            [self.sender, int(self.lease_ttl * 1000), limit],
        )
        return int(promoted), int(reclaimed)

    async def take(self, timeout: int) -> str | None:
        """The next delivery, moved into this sender's processing list; None after `timeout`."""
        raw = await self.redis.blmove(self.ready, self.processing, timeout, "RIGHT", "LEFT")
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def settle(self, item: str, settlement: Settlement, now: float) -> bool:
        """Record what became of `item`; False if it was reclaimed meanwhile (fenced off)."""
        error_json = json.dumps(
            {"type": settlement.error_type or "CallbackFailed", "message": settlement.error}
        )
        settled = await self._run(
            "settle",
            [self.processing, self.retry],
            [
                f"{now:.6f}",
                item,
                settlement.outcome,
                settlement.next_item,
                settlement.due_ms,
                settlement.attempts,
                "" if settlement.status is None else settlement.status,
                settlement.error,
                error_json,
                self.dead_letter_max,
                self.dead_letter_max_bytes,
                self.record_ttl,
            ],
        )
        return bool(int(settled))

    async def release(self) -> int:
        """Give back what this sender holds and drop its lease (a clean stop)."""
        return int(
            await self._run("release", [self.senders, self.processing, self.ready], [self.sender])
        )
